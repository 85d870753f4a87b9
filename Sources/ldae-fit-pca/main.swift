import Ldae
print("ldae-fit-pca: not yet implemented")
