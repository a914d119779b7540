"""The recorder: the dialog, its controller, and the relay that brings the recorder's callbacks to the GUI thread."""
