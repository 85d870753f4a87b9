import Ldae
print("ldae-prep: not yet implemented")
