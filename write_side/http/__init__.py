"""The command HTTP routes (POST), their validation and their problem+json errors."""
