import Ldae
print("ldae-train: not yet implemented")
