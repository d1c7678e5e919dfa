"""The sales app's pages, by area (see urls/)."""
