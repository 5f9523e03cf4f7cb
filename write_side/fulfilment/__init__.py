"""Order fulfilment: the process manager that reserves stock, takes the payment through a
circuit breaker and compensates (SPEC §1 "Order fulfilment")."""
