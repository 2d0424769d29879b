print("tinh")
