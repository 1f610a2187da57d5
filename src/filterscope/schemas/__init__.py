"""Each config group's allowed values and checks, one module per group, free of torch: the
config checks (:mod:`filterscope.config`) gather them, and the code that acts on a value reads
its allowed values here."""
