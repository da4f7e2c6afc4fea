"""SEENN-II: the policy network, its reward (paper eq. 7, 10, 12) and the finetune that trains it."""
