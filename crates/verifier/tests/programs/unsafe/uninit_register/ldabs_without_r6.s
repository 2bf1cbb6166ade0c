# prog-type: sched_cls
# expect: uninit_register
# why: ld_abs reads the context from r6, never written
ldabsh 12
exit
