"""Our TFX components and the module code that TFX's Transform and Trainer load."""
