# Fibonacci with a bpf-to-bpf call: returns F(50) = 12586269025, which
# needs all 64 bits of r0 (F(0) = 0, F(1) = 1).

    mov %r1, 50
    call local fib          # r1 = n; r0 = F(n)
    exit

fib:
    mov %r0, 0              # F(i)
    mov %r2, 1              # F(i + 1)
step:
    jeq %r1, 0, done
    mov %r3, %r0
    add %r3, %r2
    mov %r0, %r2
    mov %r2, %r3
    sub %r1, 1
    ja step
done:
    exit
