"""Transports and the process: aiogram adapter, console, webhook/polling,
operations listener, configuration and the command line."""
