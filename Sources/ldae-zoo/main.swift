import Ldae
print("ldae-zoo: not yet implemented")
