"""What is done to a finished build: push, export, and keeping the token out of it."""
