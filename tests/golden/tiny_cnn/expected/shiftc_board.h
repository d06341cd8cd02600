/*
 * shiftc_board.h: what a runner needs from the machine it runs on.
 *
 *   - an instruction counter, read around each NAME_run call only (not
 *     around the quantization or the file I/O);
 *   - on bare metal (Arm, RISC-V), the stack high-water mark of NAME_run, found by
 *     painting the free stack before the call and looking afterwards for
 *     the deepest word that changed.
 *
 * Startup, semihosted stdio (the runner's files) and exit come from picolibc
 * (--specs=picolibc.specs --crt0=semihost --oslib=semihost); nothing else is
 * needed on bare metal.  The runner defines, before including this header:
 *
 *   SHIFTC_BOARD_COUNTER        SHIFTC_COUNTER_NONE (the default),
 *                               SHIFTC_COUNTER_MINSTRET (RISC-V, M-mode) or
 *                               SHIFTC_COUNTER_SYSTICK (Cortex-M under QEMU
 *                               -icount shift=0)
 *   SHIFTC_BOARD_SYSTICK_SCALE  instructions per SysTick tick (40: the
 *                               25 MHz processor clock, 1 ns per instruction)
 *   SHIFTC_BOARD_BARE_METAL     1 on bare metal (picolibc's memory map)
 *
 * and uses a ShiftcBoard b this way:
 *
 *   shiftc_board_init(&b);
 *   for each sample:
 *       SHIFTC_STACK_PAINT(&b);  SHIFTC_COUNT_START(&b);
 *       NAME_run(...);
 *       SHIFTC_COUNT_STOP(&b);   SHIFTC_STACK_MEASURE(&b);
 *   shiftc_board_report(&b, n);
 *
 * The report goes to stdout, for `shiftc run`:
 *   shiftc-count TOTAL N   instructions inside NAME_run over N calls
 *   shiftc-stack BYTES     deepest stack use below the caller of NAME_run
 * Everything between START and STOP, and between PAINT and MEASURE, is a
 * macro expanding in the caller: no function call of the runner's own
 * touches the stack there, at any optimisation level.
 */
#ifndef SHIFTC_BOARD_H
#define SHIFTC_BOARD_H

#include <stdint.h>
#include <stdio.h>

#define SHIFTC_COUNTER_NONE 0
#define SHIFTC_COUNTER_MINSTRET 1
#define SHIFTC_COUNTER_SYSTICK 2

#ifndef SHIFTC_BOARD_COUNTER
#define SHIFTC_BOARD_COUNTER SHIFTC_COUNTER_NONE
#endif
#ifndef SHIFTC_BOARD_BARE_METAL
#define SHIFTC_BOARD_BARE_METAL 0
#endif

typedef struct ShiftcBoard {
    unsigned long long count; /* counter units inside NAME_run, summed */
    unsigned long long t0;    /* counter at SHIFTC_COUNT_START */
    uintptr_t top;            /* stack pointer at SHIFTC_STACK_PAINT */
    uintptr_t stack;          /* deepest stack use seen, bytes */
    int overflow;             /* the whole stack region was used */
} ShiftcBoard;

/* ---- the instruction counter ---- */

#if SHIFTC_BOARD_COUNTER == SHIFTC_COUNTER_MINSTRET
/* minstret counts retired instructions (exactly, under QEMU -icount);
 * on RV32 its high half is minstreth, read twice around the low half. */
#define SHIFTC_COUNT_SCALE 1u
#if __riscv_xlen == 32
#define SHIFTC_COUNTER_READ(v)                                         \
    do {                                                               \
        uint32_t hi_, lo_, hi2_;                                       \
        do {                                                           \
            __asm__ volatile("csrr %0, minstreth" : "=r"(hi_));        \
            __asm__ volatile("csrr %0, minstret" : "=r"(lo_));         \
            __asm__ volatile("csrr %0, minstreth" : "=r"(hi2_));       \
        } while (hi_ != hi2_);                                         \
        (v) = ((unsigned long long)hi_ << 32) | lo_;                   \
    } while (0)
#else
#define SHIFTC_COUNTER_READ(v)                                         \
    do {                                                               \
        unsigned long x_;                                              \
        __asm__ volatile("csrr %0, minstret" : "=r"(x_));              \
        (v) = x_;                                                      \
    } while (0)
#endif
#define SHIFTC_COUNTER_RESTART() ((void)0)
static inline void shiftc_counter_init(void)
{
}

#elif SHIFTC_BOARD_COUNTER == SHIFTC_COUNTER_SYSTICK
/* SysTick on the processor clock (CSR = CLKSOURCE | TICKINT | ENABLE),
 * reload 0xFFFFFF, counting down; each wrap to the reload value raises the
 * SysTick exception, whose handler (picolibc's weak arm_systick_isr,
 * replaced here) counts the 2^24-tick periods.  A read takes the period
 * count and the current value together, retrying if the handler ran in
 * between, and adds the period whose exception is still pending.
 * SHIFTC_COUNT_START restarts the count (a write to CVR clears it; the next
 * tick reloads it), so the exception, whose frame would land on the stack
 * being measured, only comes within an inference longer than 2^24 ticks
 * (671 million instructions). */
#define SHIFTC_COUNT_SCALE ((unsigned)SHIFTC_BOARD_SYSTICK_SCALE)
#define SHIFTC_SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SHIFTC_SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SHIFTC_SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SHIFTC_SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)
#define SHIFTC_ICSR_PENDSTSET (1u << 26)
static volatile uint32_t shiftc_systick_periods;
void arm_systick_isr(void);
void arm_systick_isr(void)
{
    shiftc_systick_periods++;
}
static inline void shiftc_counter_init(void)
{
    SHIFTC_SYST_CSR = 0;
    SHIFTC_SYST_RVR = 0xFFFFFFu;
    SHIFTC_SYST_CVR = 0;
    SHIFTC_SYST_CSR = 7u;
}
#define SHIFTC_COUNTER_READ(v)                                                         \
    do {                                                                               \
        uint32_t p_, c_;                                                               \
        do {                                                                           \
            p_ = shiftc_systick_periods;                                               \
            c_ = SHIFTC_SYST_CVR;                                                      \
        } while (p_ != shiftc_systick_periods);                                        \
        if ((SHIFTC_SCB_ICSR & SHIFTC_ICSR_PENDSTSET) && c_ > 0x800000u)               \
            p_++;                                                                      \
        (v) = ((unsigned long long)p_ << 24) + (0xFFFFFFu - c_);                       \
    } while (0)
#define SHIFTC_COUNTER_RESTART()                                                       \
    do {                                                                               \
        SHIFTC_SYST_CVR = 0;                                                           \
        while (SHIFTC_SYST_CVR == 0) {                                                 \
        }                                                                              \
    } while (0)

#else
#define SHIFTC_COUNT_SCALE 0u
#define SHIFTC_COUNTER_READ(v) ((v) = 0)
#define SHIFTC_COUNTER_RESTART() ((void)0)
static inline void shiftc_counter_init(void)
{
}
#endif

#if SHIFTC_BOARD_COUNTER != SHIFTC_COUNTER_NONE
#define SHIFTC_COUNT_START(b)                                                          \
    do {                                                                               \
        SHIFTC_COUNTER_RESTART();                                                      \
        SHIFTC_COUNTER_READ((b)->t0);                                                  \
    } while (0)
#define SHIFTC_COUNT_STOP(b)                                                           \
    do {                                                                               \
        unsigned long long t1_;                                                        \
        SHIFTC_COUNTER_READ(t1_);                                                      \
        (b)->count += t1_ - (b)->t0;                                                   \
    } while (0)
#else
#define SHIFTC_COUNT_START(b) ((void)(b))
#define SHIFTC_COUNT_STOP(b) ((void)(b))
#endif

/* ---- the stack high-water mark (bare metal) ---- */

#if SHIFTC_BOARD_BARE_METAL && defined(__arm__)
#define SHIFTC_READ_SP(v) __asm__ volatile("mov %0, sp" : "=r"(v))
#elif SHIFTC_BOARD_BARE_METAL && defined(__riscv)
#define SHIFTC_READ_SP(v) __asm__ volatile("mv %0, sp" : "=r"(v))
#endif

#ifdef SHIFTC_READ_SP
#define SHIFTC_STACK_MEASURED 1
/* picolibc.ld: the stack region is [__heap_end, __stack), growing down. */
extern char __heap_end[];
#define SHIFTC_STACK_PATTERN 0x5AA5C33Cu
#define SHIFTC_STACK_PAINT(b)                                                          \
    do {                                                                               \
        volatile uint32_t *p_;                                                         \
        SHIFTC_READ_SP((b)->top);                                                      \
        for (p_ = (volatile uint32_t *)(void *)__heap_end; (uintptr_t)p_ < (b)->top; p_++) \
            *p_ = SHIFTC_STACK_PATTERN;                                                \
    } while (0)
#define SHIFTC_STACK_MEASURE(b)                                                        \
    do {                                                                               \
        volatile uint32_t *p_ = (volatile uint32_t *)(void *)__heap_end;               \
        if (*p_ != SHIFTC_STACK_PATTERN)                                               \
            (b)->overflow = 1;                                                         \
        while ((uintptr_t)p_ < (b)->top && *p_ == SHIFTC_STACK_PATTERN)                \
            p_++;                                                                      \
        if ((b)->top - (uintptr_t)p_ > (b)->stack)                                     \
            (b)->stack = (b)->top - (uintptr_t)p_;                                     \
    } while (0)
#else
#define SHIFTC_STACK_MEASURED 0
#define SHIFTC_STACK_PAINT(b) ((void)(b))
#define SHIFTC_STACK_MEASURE(b) ((void)(b))
#endif

/* ---- setup and report ---- */

static inline void shiftc_board_init(ShiftcBoard *b)
{
    b->count = 0;
    b->t0 = 0;
    b->top = 0;
    b->stack = 0;
    b->overflow = 0;
    shiftc_counter_init();
}

/* Decimal text of v (no printf length modifiers needed: some C libraries
 * for microcontrollers print no long long). */
static inline const char *shiftc_u64_text(unsigned long long v, char buf[24])
{
    char *p = buf + 23;
    *p = '\0';
    do {
        *--p = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v);
    return p;
}

static inline void shiftc_board_report(const ShiftcBoard *b, long n)
{
    char buf[24];
    if (SHIFTC_BOARD_COUNTER != SHIFTC_COUNTER_NONE)
        printf("shiftc-count %s %ld\n", shiftc_u64_text(b->count * SHIFTC_COUNT_SCALE, buf), n);
    if (SHIFTC_STACK_MEASURED) {
        printf("shiftc-stack %s\n", shiftc_u64_text((unsigned long long)b->stack, buf));
        if (b->overflow)
            fprintf(stderr, "runner: the model used the whole stack region: raise __stack_size\n");
    }
}

#endif
