"""A stand-in for the application image: the contract the platform gives the real one, exercised."""
