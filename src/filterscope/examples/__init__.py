"""Examples to copy: a model of your own, as filterscope takes one."""
