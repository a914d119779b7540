"""The main window: its header, its pages and rooms composed from one bundle of services, and the controllers
that run recording, importing, clinic sync and the idle lock for it."""
