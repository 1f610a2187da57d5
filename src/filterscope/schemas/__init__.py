"""Each config group's allowed values, written once and free of torch: the config checks
(:mod:`filterscope.config`) and the code that acts on a value both read them here."""
