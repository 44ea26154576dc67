"""EGGAN (Tang, Shao, Ma, ICME 2020), the method: each part in one short file.

model          `EggAN`, the Method: presets, the training phases (critic, latent, generator) and translate
nets           the networks by role (E, D_z, G, D_img, C_exp, C_id) from one of two families:
nets_paper     as the paper describes them (Section 4.1)
nets_official  as the authors' public code builds them
losses         the loss terms of Eq. 1-7, one function each
msssim         MS-SSIM for the reconstruction loss (Eq. 6) at every suite size
perceptual     phi, the frozen VGG19 trunk of the perceptual loss (Eq. 5)
variants       `EggANConfig`: the paper's settings and the authors' code as one field each
"""
