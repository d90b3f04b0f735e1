# cmake -DIN=file -DOUT=file.c -DNAME=symbol -P Embed.cmake
# Writes a C file defining "const char NAME[]" with the bytes of IN and a NUL.
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE "${OUT}" "/* Generated from ${IN}; do not edit. */\nconst char ${NAME}[] = {${bytes}0x00};\n")
