O = rot91(I)
