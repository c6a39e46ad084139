wijkagent-consent-sig/1
key 56475aa75463474c
sig AuSZ3niooxzjm+R0EviTlZZRGVO+zTexHrJmWLjNNcniezUUpcj/gJtWWS3vkprjcBWdlkey5S6H+CCEMah7Dw==
