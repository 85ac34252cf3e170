"""What the TorchScript lowering (torchscript.py) and its control-flow part (script.py) share."""


class Unsupported(Exception):
    """Raised by a lowering for a configuration it cannot export (reported with the op kind)."""


class Poison:
    """Output of a node that could not be lowered; users of it are skipped silently."""


POISON = Poison()
