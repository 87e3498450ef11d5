/* test_x86_emit.c: the instruction encoder against encodings worked out by
 * hand from the Intel SDM (vol. 2, "Instruction Format": REX = 0100WRXB;
 * ModRM = mod:2 reg:3 rm:3; SIB = scale:2 index:3 base:3; rm=100 means a
 * SIB follows; mod=00 with rm/base=101 means disp32, so rbp/r13 bases need
 * a disp8 of 0).  When objdump is installed, the same bytes are also
 * disassembled and compared with the expected Intel-syntax text. */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "x86_emit.h"

typedef struct enc_case {
    const char *intel;          /* objdump -M intel text, spaces squeezed */
    uint8_t bytes[16];
    size_t len;
} enc_case;

#define B(...) { __VA_ARGS__ }, sizeof((uint8_t[]){ __VA_ARGS__ })

static const enc_case cases[] = {
    /* 0 */ { "mov rax,rbx", B(0x48, 0x8b, 0xc3) },
    /* 1 */ { "mov r13,r12", B(0x4d, 0x8b, 0xec) },
    /* 2 */ { "mov rax,QWORD PTR [r12]", B(0x49, 0x8b, 0x04, 0x24) },
    /* 3 */ { "mov rax,QWORD PTR [r13+0x0]", B(0x49, 0x8b, 0x45, 0x00) },
    /* 4 */ { "mov rax,QWORD PTR [rbp+0x0]", B(0x48, 0x8b, 0x45, 0x00) },
    /* 5 */ { "mov rcx,QWORD PTR [rsp+0x8]", B(0x48, 0x8b, 0x4c, 0x24, 0x08) },
    /* 6 */ { "mov rdx,QWORD PTR [rbx+0x850]",
              B(0x48, 0x8b, 0x93, 0x50, 0x08, 0x00, 0x00) },
    /* 7 */ { "mov DWORD PTR [r12+rax*1],r9d", B(0x45, 0x89, 0x0c, 0x04) },
    /* 8 */ { "mov QWORD PTR [r13+rax*8+0x0],rcx",
              B(0x49, 0x89, 0x4c, 0xc5, 0x00) },
    /* 9 */ { "mov BYTE PTR [r12+rax*1],sil", B(0x41, 0x88, 0x34, 0x04) },
    /* 10 */ { "mov BYTE PTR [r12+rax*1],cl", B(0x41, 0x88, 0x0c, 0x04) },
    /* 11 */ { "mov BYTE PTR [rbx],dil", B(0x40, 0x88, 0x3b) },
    /* 12 */ { "mov WORD PTR [r12+rax*1],cx",
               B(0x66, 0x41, 0x89, 0x0c, 0x04) },
    /* 13 */ { "movabs rax,0x1122334455667788",
               B(0x48, 0xb8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11) },
    /* 14 */ { "mov r9d,0x5", B(0x41, 0xb9, 0x05, 0x00, 0x00, 0x00) },
    /* 15 */ { "mov rax,0xffffffffffffffff",
               B(0x48, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff) },
    /* 16 */ { "xor esi,esi", B(0x33, 0xf6) },
    /* 17 */ { "sub r14,0x1", B(0x49, 0x83, 0xee, 0x01) },
    /* 18 */ { "add rax,0x1000", B(0x48, 0x81, 0xc0, 0x00, 0x10, 0x00, 0x00) },
    /* 19 */ { "lea rax,[rbp+0x10]", B(0x48, 0x8d, 0x45, 0x10) },
    /* 20 */ { "lea r8,[r13+rcx*1+0x0]", B(0x4d, 0x8d, 0x44, 0x0d, 0x00) },
    /* 21 */ { "jmp rsi", B(0xff, 0xe6) },
    /* 22 */ { "push r15", B(0x41, 0x57) },
    /* 23 */ { "pop rbx", B(0x5b) },
    /* 24 */ { "cqo", B(0x48, 0x99) },
    /* 25 */ { "idiv rcx", B(0x48, 0xf7, 0xf9) },
    /* 26 */ { "sete al", B(0x0f, 0x94, 0xc0) },
    /* 27 */ { "movzx r10d,al", B(0x44, 0x0f, 0xb6, 0xd0) },
    /* 28 */ { "cmovne rax,QWORD PTR [rbx+0x10]",
               B(0x48, 0x0f, 0x45, 0x43, 0x10) },
    /* 29 */ { "shl r8,cl", B(0x49, 0xd3, 0xe0) },
    /* 30 */ { "sar rdi,0x3f", B(0x48, 0xc1, 0xff, 0x3f) },
    /* 31 */ { "movsxd rax,DWORD PTR [r12+rax*1]", B(0x49, 0x63, 0x04, 0x04) },
    /* 32 */ { "mov DWORD PTR [rbx+0x860],0x8",
               B(0xc7, 0x83, 0x60, 0x08, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00) },
    /* 33 */ { "cmp QWORD PTR [rbx+0x8],0x0", B(0x48, 0x83, 0x7b, 0x08, 0x00) },
    /* 34 */ { "imul rax,QWORD PTR [rbx+0x10],0x7",
               B(0x48, 0x6b, 0x43, 0x10, 0x07) },
    /* 35 */ { "mov r12,QWORD PTR [rbx+0x800]",
               B(0x4c, 0x8b, 0xa3, 0x00, 0x08, 0x00, 0x00) },
    /* 36 */ { "movsx rsi,WORD PTR [r12+rax*1]",
               B(0x49, 0x0f, 0xbf, 0x34, 0x04) },
    /* 37 */ { "cmp rax,r13", B(0x49, 0x3b, 0xc5) },
    /* 38 */ { "mov QWORD PTR [rcx+rax*8],0xfffffffffffffff0",
               B(0x48, 0xc7, 0x04, 0xc1, 0xf0, 0xff, 0xff, 0xff) },
    /* 39 */ { "mov r15,QWORD PTR [rbx+0x7f8]",
               B(0x4c, 0x8b, 0xbb, 0xf8, 0x07, 0x00, 0x00) },
    /* 40 */ { "neg rbp", B(0x48, 0xf7, 0xdd) },
    /* 41 */ { "mov QWORD PTR [r12-0x80],rsi",
               B(0x49, 0x89, 0x74, 0x24, 0x80) },
    /* 42 */ { "movzx eax,BYTE PTR [r12+rax*1]",
               B(0x41, 0x0f, 0xb6, 0x04, 0x04) },
    /* 43 */ { "test r11,r11", B(0x4d, 0x85, 0xdb) },
    /* 44 */ { "ret", B(0xc3) },
    /* 45 */ { "mov r8d,DWORD PTR [r12+r13*4+0x7f]",
               B(0x47, 0x8b, 0x44, 0xac, 0x7f) },
};
#define NCASES (sizeof cases / sizeof cases[0])

static void emit_case(size_t i, cg_code *c)
{
    switch (i) {
    case 0: x86_mov_rr(c, X86_RAX, X86_RBX); break;
    case 1: x86_mov_rr(c, X86_R13, X86_R12); break;
    case 2: x86_ld(c, X86_RAX, X86_R12, 0); break;
    case 3: x86_ld(c, X86_RAX, X86_R13, 0); break;
    case 4: x86_ld(c, X86_RAX, X86_RBP, 0); break;
    case 5: x86_ld(c, X86_RCX, X86_RSP, 8); break;
    case 6: x86_ld(c, X86_RDX, X86_RBX, 2128); break;
    case 7: x86_rmx(c, OPC_MOVL_EvGv, X86_R9, X86_R12, X86_RAX, 0, 0); break;
    case 8: x86_rmx(c, OPC_MOVL_EvGv | P_REXW, X86_RCX, X86_R13, X86_RAX, 3, 0);
        break;
    case 9: x86_rmx(c, OPC_MOVB_EvGv | P_REXB_R, X86_RSI, X86_R12, X86_RAX, 0,
                    0);
        break;
    case 10: x86_rmx(c, OPC_MOVB_EvGv | P_REXB_R, X86_RCX, X86_R12, X86_RAX, 0,
                     0);
        break;
    case 11: x86_rm(c, OPC_MOVB_EvGv | P_REXB_R, X86_RDI, X86_RBX, 0); break;
    case 12: x86_rmx(c, OPC_MOVL_EvGv | P_DATA16, X86_RCX, X86_R12, X86_RAX, 0,
                     0);
        break;
    case 13: x86_movi(c, X86_RAX, 0x1122334455667788ull); break;
    case 14: x86_movi(c, X86_R9, 5); break;
    case 15: x86_movi(c, X86_RAX, ~0ull); break;
    case 16: x86_movi(c, X86_RSI, 0); break;
    case 17: x86_arith_ri(c, ARITH_SUB, X86_R14, 1); break;
    case 18: x86_arith_ri(c, ARITH_ADD, X86_RAX, 0x1000); break;
    case 19: x86_rm(c, OPC_LEA | P_REXW, X86_RAX, X86_RBP, 16); break;
    case 20: x86_rmx(c, OPC_LEA | P_REXW, X86_R8, X86_R13, X86_RCX, 0, 0);
        break;
    case 21: x86_rr(c, OPC_GRP5, EXT5_JMPN_Ev, X86_RSI); break;
    case 22: x86_op(c, OPC_PUSH_r, X86_R15); break;
    case 23: x86_op(c, OPC_POP_r, X86_RBX); break;
    case 24: x86_op(c, OPC_CQO, X86_NOREG); break;
    case 25: x86_rr(c, OPC_GRP3_Ev | P_REXW, EXT3_IDIV, X86_RCX); break;
    case 26: x86_rr(c, OPC_SETCC + X86_CC_E, 0, X86_RAX); break;
    case 27: x86_rr(c, OPC_MOVZBL, X86_R10, X86_RAX); break;
    case 28: x86_rm(c, (OPC_CMOVCC + X86_CC_NE) | P_REXW, X86_RAX, X86_RBX, 16);
        break;
    case 29: x86_rr(c, OPC_SHIFT_cl | P_REXW, SHIFT_SHL, X86_R8); break;
    case 30: x86_rr(c, OPC_SHIFT_Ib | P_REXW, SHIFT_SAR, X86_RDI);
        x86_imm8(c, 63);
        break;
    case 31: x86_rmx(c, OPC_MOVSLQ, X86_RAX, X86_R12, X86_RAX, 0, 0); break;
    case 32: x86_st_imm32(c, X86_RBX, 2144, 8); break;
    case 33: x86_arith_mi(c, ARITH_CMP, X86_RBX, 8, 0); break;
    case 34: x86_rm(c, OPC_IMUL_GvEvIb | P_REXW, X86_RAX, X86_RBX, 16);
        x86_imm8(c, 7);
        break;
    case 35: x86_ld(c, X86_R12, X86_RBX, 2048); break;
    case 36: x86_rmx(c, OPC_MOVSWL | P_REXW, X86_RSI, X86_R12, X86_RAX, 0, 0);
        break;
    case 37: x86_rr(c, OPC_ARITH_GvEv | ARITH_CMP << 3 | P_REXW, X86_RAX,
                    X86_R13);
        break;
    case 38: x86_rmx(c, OPC_MOVL_EvIz | P_REXW, 0, X86_RCX, X86_RAX, 3, 0);
        x86_imm32(c, -16);
        break;
    case 39: x86_ld(c, X86_R15, X86_RBX, 8 * 255); break;
    case 40: x86_rr(c, OPC_GRP3_Ev | P_REXW, EXT3_NEG, X86_RBP); break;
    case 41: x86_st(c, X86_RSI, X86_R12, -128); break;
    case 42: x86_rmx(c, OPC_MOVZBL, X86_RAX, X86_R12, X86_RAX, 0, 0); break;
    case 43: x86_rr(c, OPC_TEST_EvGv | P_REXW, X86_R11, X86_R11); break;
    case 44: x86_op(c, OPC_RET, X86_NOREG); break;
    case 45: x86_rmx(c, OPC_MOVL_GvEv, X86_R8, X86_R12, X86_R13, 2, 127); break;
    }
}

static void test_encodings(void)
{
    for (size_t i = 0; i < NCASES; i++) {
        cg_code c;
        memset(&c, 0, sizeof c);
        emit_case(i, &c);
        int ok = c.code.len == cases[i].len &&
                 memcmp(c.code.data, cases[i].bytes, cases[i].len) == 0;
        if (!ok) {
            fprintf(stderr, "case %zu (%s): got", i, cases[i].intel);
            for (size_t k = 0; k < c.code.len; k++)
                fprintf(stderr, " %02x", c.code.data[k]);
            fprintf(stderr, "\n");
        }
        CU_ASSERT(ok);
        cg_code_free(&c);
    }
}

/* Squeezes runs of blanks to nothing after ',' and one space elsewhere. */
static void squeeze(char *s)
{
    char *o = s;
    int space = 0;
    for (char *p = s; *p; p++) {
        if (*p == ' ' || *p == '\t') {
            space = 1;
            continue;
        }
        if (space && o != s && o[-1] != ',')
            *o++ = ' ';
        space = 0;
        *o++ = *p;
    }
    *o = '\0';
}

/* Each case is disassembled on its own so a mistake cannot shift the rest. */
static void test_objdump(void)
{
    if (system("objdump --version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "objdump not found: skipped\n");
        return;
    }
    char path[512], cmd[1200], line[512];
    snprintf(path, sizeof path, "%s/enc.bin", tu_tmpdir());
    for (size_t i = 0; i < NCASES; i++) {
        FILE *f = fopen(path, "wb");
        CU_ASSERT_FATAL(f != NULL);
        fwrite(cases[i].bytes, 1, cases[i].len, f);
        fclose(f);
        snprintf(cmd, sizeof cmd,
                 "objdump -D -b binary -mi386:x86-64 -M intel '%s' | "
                 "sed -n 's/^ *0:\\t[0-9a-f ]*\\t//p'", path);
        FILE *p = popen(cmd, "r");
        CU_ASSERT_FATAL(p != NULL);
        line[0] = '\0';
        if (!fgets(line, sizeof line, p))
            line[0] = '\0';
        pclose(p);
        line[strcspn(line, "\n")] = '\0';
        squeeze(line);
        if (strcmp(line, cases[i].intel) != 0)
            fprintf(stderr, "case %zu: objdump says '%s', expected '%s'\n", i,
                    line, cases[i].intel);
        CU_ASSERT_STRING_EQUAL(line, cases[i].intel);
    }
}

static void test_relocs(void)
{
    cg_code c;
    memset(&c, 0, sizeof c);
    x86_op(&c, OPC_RET, X86_NOREG);
    x86_jmp_sym(&c, CG_TGT_BLOCK, 0x1234);
    x86_jcc_sym(&c, X86_CC_NE, CG_TGT_RT, CG_RT_EXIT);
    static const uint8_t want[] = { 0xc3, 0xe9, 0, 0, 0, 0, 0x0f, 0x85, 0, 0,
                                    0, 0 };
    CU_ASSERT_EQUAL_FATAL(c.code.len, sizeof want);
    CU_ASSERT(memcmp(c.code.data, want, sizeof want) == 0);
    CU_ASSERT_EQUAL_FATAL(c.nrelocs, 2);
    CU_ASSERT_EQUAL(c.relocs[0].offset, 2);
    CU_ASSERT_EQUAL(c.relocs[0].type, R_X86_64_PLT32);
    CU_ASSERT_EQUAL(c.relocs[0].addend, -4);
    CU_ASSERT_EQUAL(c.relocs[0].kind, CG_TGT_BLOCK);
    CU_ASSERT_EQUAL(c.relocs[0].target, 0x1234);
    CU_ASSERT_EQUAL(c.relocs[1].offset, 8);
    CU_ASSERT_EQUAL(c.relocs[1].kind, CG_TGT_RT);
    CU_ASSERT_EQUAL(c.relocs[1].target, CG_RT_EXIT);
    cg_code_free(&c);

    /* lea r10, [rip + disp32]: REX.W|REX.R = 4c, 8d, ModRM mod=00
     * reg=010 rm=101 = 15; the disp32 is a PC32 field ending the insn. */
    memset(&c, 0, sizeof c);
    x86_lea_sym(&c, X86_R10, CG_TGT_BLOCK, 0x2000);
    static const uint8_t lea[] = { 0x4c, 0x8d, 0x15, 0, 0, 0, 0 };
    CU_ASSERT_EQUAL_FATAL(c.code.len, sizeof lea);
    CU_ASSERT(memcmp(c.code.data, lea, sizeof lea) == 0);
    CU_ASSERT_EQUAL_FATAL(c.nrelocs, 1);
    CU_ASSERT_EQUAL(c.relocs[0].offset, 3);
    CU_ASSERT_EQUAL(c.relocs[0].type, R_X86_64_PC32);
    CU_ASSERT_EQUAL(c.relocs[0].addend, -4);
    CU_ASSERT_EQUAL(c.relocs[0].kind, CG_TGT_BLOCK);
    CU_ASSERT_EQUAL(c.relocs[0].target, 0x2000);
    cg_code_free(&c);
}

static void test_forward_branches(void)
{
    cg_code c;
    memset(&c, 0, sizeof c);
    uint32_t j8 = x86_jcc8_fwd(&c, X86_CC_E);      /* 74 xx */
    uint32_t j32 = x86_jcc32_fwd(&c, X86_CC_AE);   /* 0f 83 xx xx xx xx */
    uint32_t jm = x86_jmp8_fwd(&c);                /* eb xx */
    x86_op(&c, OPC_RET, X86_NOREG);                /* at offset 10 */
    x86_patch8(&c, j8, 10);
    x86_patch32(&c, j32, 10);
    x86_patch8(&c, jm, 10);
    static const uint8_t want[] = { 0x74, 0x08, 0x0f, 0x83, 0x02, 0, 0, 0,
                                    0xeb, 0x00, 0xc3 };
    CU_ASSERT_EQUAL_FATAL(c.code.len, sizeof want);
    CU_ASSERT(memcmp(c.code.data, want, sizeof want) == 0);
    CU_ASSERT_EQUAL(c.code.oom, 0);
    /* a short branch that cannot reach is an error, never a wrong jump */
    x86_patch8(&c, j8, 200);
    CU_ASSERT(c.code.oom != 0);
    cg_code_free(&c);
}

static void test_jmp_back(void)
{
    cg_code c;
    memset(&c, 0, sizeof c);
    x86_op(&c, OPC_RET, X86_NOREG);
    x86_jmp_back(&c, 0);               /* eb fd: 3 - 3 = 0 */
    CU_ASSERT_EQUAL_FATAL(c.code.len, 3);
    CU_ASSERT_EQUAL(c.code.data[1], 0xeb);
    CU_ASSERT_EQUAL(c.code.data[2], 0xfd);
    while (c.code.len < 200)
        x86_op(&c, OPC_RET, X86_NOREG);
    x86_jmp_back(&c, 0);               /* e9, rel32 = 0 - 205 */
    CU_ASSERT_EQUAL_FATAL(c.code.len, 205);
    CU_ASSERT_EQUAL(c.code.data[200], 0xe9);
    CU_ASSERT_EQUAL(get_le32(c.code.data + 201), (uint32_t)-205);
    cg_code_free(&c);
}

/* Padding to 16 bytes from every offset: the multi-byte nops of the
 * Intel SDM's NOP table (written out here by hand), longest first, and
 * nothing when already aligned.  They are never executed in the code
 * generator's use, so only this test sees a wrong encoding. */
static void test_align(void)
{
    static const uint8_t nop[9][8] = {
        { 0 }, { 0x90 }, { 0x66, 0x90 }, { 0x0f, 0x1f, 0x00 },
        { 0x0f, 0x1f, 0x40, 0x00 }, { 0x0f, 0x1f, 0x44, 0x00, 0x00 },
        { 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00 },
        { 0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00 },
        { 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00 },
    };
    for (unsigned start = 0; start < 16; start++) {
        cg_code c;
        memset(&c, 0, sizeof c);
        for (unsigned i = 0; i < start; i++)
            x86_op(&c, OPC_RET, X86_NOREG);
        x86_align(&c, 16);
        unsigned pad = (16 - start) % 16;
        CU_ASSERT_EQUAL_FATAL(c.code.len, start + pad);
        /* 8 bytes first, then the rest in one nop */
        const uint8_t *p = c.code.data + start;
        unsigned first = pad > 8 ? 8 : pad, rest = pad - first;
        if (first)
            CU_ASSERT(memcmp(p, nop[first], first) == 0);
        if (rest)
            CU_ASSERT(memcmp(p + first, nop[rest], rest) == 0);
        cg_code_free(&c);
    }
}

static CU_TestInfo tests[] = {
    { "alignment nops", test_align },
    { "backward jumps, short and long", test_jmp_back },
    { "hand-derived encodings", test_encodings },
    { "objdump agrees", test_objdump },
    { "relocations with their placeholders", test_relocs },
    { "forward branch patching", test_forward_branches },
    CU_TEST_INFO_NULL
};

static CU_SuiteInfo suites[] = {
    { "x86_emit", NULL, NULL, NULL, NULL, tests },
    CU_SUITE_INFO_NULL
};

int main(void)
{
    return tu_run(suites);
}
