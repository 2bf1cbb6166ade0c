# The Internet checksum (RFC 1071) of the input bytes.
#
# Input: r1 = address of the bytes, r2 = their length (`oxbpf run
# examples/hello.s --data FILE`). Sums the bytes as 16-bit big-endian
# words (a trailing odd byte is the high byte of a last word), folds the
# carries back into 16 bits, and returns the one's complement.
#
# RFC 1071's own example, 00 01 f2 03 f4 f5 f6 f7, returns 0x220d (8717).

    mov %r0, 0              # running sum
    mov %r3, %r1            # cursor
    mov %r4, %r1
    add %r4, %r2            # end of the input
next:
    mov %r5, %r4
    sub %r5, %r3            # bytes left
    jlt %r5, 2, tail
    ldxh %r6, [%r3]         # two bytes, loaded little-endian ...
    be16 %r6                # ... and swapped to their network-order value
    add %r0, %r6
    add %r3, 2
    ja next
tail:
    jeq %r5, 0, fold
    ldxb %r6, [%r3]         # odd length: the last byte is a high byte
    lsh %r6, 8
    add %r0, %r6
fold:
    mov %r5, %r0
    rsh %r5, 16             # carries above 16 bits
    jeq %r5, 0, done
    and %r0, 0xffff
    add %r0, %r5
    ja fold
done:
    xor %r0, 0xffff
    exit
