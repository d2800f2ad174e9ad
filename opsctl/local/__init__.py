"""The local environment: the AWS emulator, `make run`, and the processes they start."""
