"""One module per remote service behind one interface (``base.Service``); see ``registry``."""
