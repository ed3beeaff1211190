"""Model zoo: a name -> builder registry and one module per architecture."""
