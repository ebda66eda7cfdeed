"""xcost-tui: what does a better cross-lingual model cost?"""

__version__ = "0.1.0"

XCOPA_LANGS = ("et", "ht", "id", "it", "qu", "sw", "ta", "th", "tr", "vi", "zh")
