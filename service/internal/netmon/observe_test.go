package netmon_test

import (
	"fmt"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/pantheros/secmon/service/internal/netmon"
)

// The cgroup programs could refuse a bind or a socket release by returning
// 0. Prove from the committed object that they cannot: every exit is
// directly after "r0 = 1", no jump lands on an exit (skipping that move),
// and nothing is called that could return on their behalf.
func TestCgroupProgramsAlwaysAllow(t *testing.T) {
	spec, err := netmon.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for name, p := range spec.Programs {
		switch p.Type {
		case ebpf.TracePoint, ebpf.Tracing, ebpf.RawTracepoint:
			continue // cannot change what the kernel does
		case ebpf.CGroupSock, ebpf.CGroupSockAddr:
		default:
			t.Errorf("program %s has type %s: only tracepoints and cgroup sock programs are expected", name, p.Type)
			continue
		}
		checked++
		for _, problem := range alwaysAllows(p.Instructions) {
			t.Errorf("%s: %s", name, problem)
		}
	}
	if checked != 5 {
		t.Fatalf("checked %d cgroup programs, want 5 (bind4/6, post_bind4/6, sock_release)", checked)
	}
}

// And in practice: with the programs attached, binds of every kind,
// connections and closes go through (the helper exits 3 on any error).
func TestBindsAndConnectsGoThroughWhileAttached(t *testing.T) {
	needBPF(t)
	ns := newNetns(t)
	run(t, cfgFor(ns))
	startHelper(t, "nm-binds", ns, "binds")
	startHelper(t, "nm-binds-host", "", "binds") // outside the watched namespace too
}

// alwaysAllows lists why insns might return something other than 1.
func alwaysAllows(insns asm.Instructions) []string {
	var problems []string
	// Raw offsets: a 64-bit immediate load takes two slots.
	at := make([]int, len(insns)+1)
	for i, ins := range insns {
		at[i+1] = at[i] + int(ins.Size()/asm.InstructionSize)
	}
	exits := map[int]bool{}
	for i, ins := range insns {
		if !ins.OpCode.Class().IsJump() || ins.OpCode.JumpOp() != asm.Exit {
			continue
		}
		exits[at[i]] = true
		if i == 0 {
			problems = append(problems, "starts with exit")
			continue
		}
		prev := insns[i-1]
		if !prev.OpCode.Class().IsALU() || prev.OpCode.ALUOp() != asm.Mov ||
			prev.OpCode.Source() != asm.ImmSource || prev.Dst != asm.R0 || prev.Constant != 1 {
			problems = append(problems, fmt.Sprintf("exit at %d follows %v, not r0 = 1", i, prev))
		}
	}
	if len(exits) == 0 {
		problems = append(problems, "no exit")
	}
	for i, ins := range insns {
		if !ins.OpCode.Class().IsJump() {
			continue
		}
		switch op := ins.OpCode.JumpOp(); {
		case op == asm.Exit:
		case op == asm.Call && ins.Src == asm.PseudoCall:
			problems = append(problems, fmt.Sprintf("calls a subprogram at %d, which the check cannot follow", i))
		case op == asm.Call:
			// a helper: returns to the next instruction
		default:
			if exits[at[i]+1+int(ins.Offset)] {
				problems = append(problems, fmt.Sprintf("the jump at %d lands on an exit", i))
			}
		}
	}
	return problems
}

// The check itself catches programs that could deny.
func TestAlwaysAllowsCatchesDenials(t *testing.T) {
	// if r2 == 17 goto +1 (past r3 = 0, onto r0 = 1)
	jeq := func(off int16) asm.Instruction {
		return asm.Instruction{OpCode: asm.OpCode(asm.JumpClass).SetJumpOp(asm.JEq).SetSource(asm.ImmSource),
			Dst: asm.R2, Constant: 17, Offset: off}
	}
	ok := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word),
		jeq(1),
		asm.Mov.Imm(asm.R3, 0),
		asm.Mov.Imm(asm.R0, 1),
		asm.Return(),
	}
	tests := []struct {
		name  string
		insns asm.Instructions
		bad   bool
	}{
		{"allow on every path", ok, false},
		{"return 0", asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}, true},
		{"return a register", asm.Instructions{asm.Mov.Reg(asm.R0, asm.R1), asm.Return()}, true},
		// Counted by index, the jump would land on the exit: a 64-bit
		// load takes two slots, so it lands on r0 = 1.
		{"a 64-bit load counts two slots", asm.Instructions{
			jeq(2),
			asm.LoadImm(asm.R3, 1<<40, asm.DWord),
			asm.Mov.Imm(asm.R0, 1),
			asm.Return(),
		}, false},
		{"a jump onto the exit", asm.Instructions{
			asm.Mov.Imm(asm.R0, 0),
			jeq(1),
			asm.Mov.Imm(asm.R0, 1),
			asm.Return(),
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			insns := tt.insns
			if got := alwaysAllows(insns); (len(got) > 0) != tt.bad {
				t.Fatalf("problems %v, want bad=%v", got, tt.bad)
			}
		})
	}
}
