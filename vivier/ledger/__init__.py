"""The send ledger: the send states, their allowed moves, and the only code that writes them."""
