// ZKStorage
