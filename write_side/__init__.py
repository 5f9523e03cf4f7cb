"""The command side: pure deciders, the command service, the JetStream event store, the
fulfilment process and the command HTTP routes. Imports events/, never read_side/."""
