using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using HeadWise.Generation;
using HeadWise.KvCache;
using HeadWise.Models;
using HeadWise.Tests.Fixtures;
using TorchSharp;

namespace HeadWise.Bench;

/// <summary>
/// `kv [--tokens 4096] [--budget 0.25] [--policies streaming,h2o] [--layers 16]`: decodes --tokens tokens after BOS on a random Llama
/// written here (MHA, so the KV cache dominates a decode step), once with the plain full cache and once per policy, each in
/// its own process so peak RSS is that run's. Reports the peak-RSS growth during decoding and the time per token over the
/// last 128 steps (context ~ --tokens), both wall-clock and the process's CPU time (one torch thread, so CPU time is the
/// work done; on a shared, oversubscribed machine wall time mostly measures the neighbours). Acceptance: growth &lt;= 40%
/// of full's, time per token &gt;= 1.5x faster.
/// </summary>
public static class KvBench
{
    private const int Tail = 128;

    public static int Main(string[] args)
    {
        if (args[0] == "kv-child") return Child(args[1], args[2], args[3], int.Parse(args[4], CultureInfo.InvariantCulture));
        int tokens = Arg(args, "--tokens", 4096);
        // 16 layers: the KV cache (130 MiB at 4,096 tokens) dwarfs the few MiB of process overhead (managed heap, code)
        // that do not shrink with the budget, as the cache of any real model at this length does.
        int layers = Arg(args, "--layers", 16);
        string budget = ArgS(args, "--budget", "0.25");
        var policies = ArgS(args, "--policies", "streaming,h2o").Split(',');
        var dir = Path.Combine(Path.GetTempPath(), $"hw-kvbench-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        var model = RandomLlamaGguf.Write(Path.Combine(dir, "random-mha.gguf"),
            new RandomLlamaConfig(Layers: layers, Dim: 256, Heads: 8, KvHeads: 8, FfnDim: 256, Vocab: 512, Context: tokens + 64));
        Console.WriteLine($"model: {layers} layers, 8 heads = 8 KV heads, head size 32; full KV at {tokens} tokens = {(long)layers * 8 * tokens * 32 * 8 / 1048576.0:F1} MiB");
        Console.WriteLine($"load: {File.ReadAllText("/proc/loadavg").Trim()}; torch threads per run: {Environment.GetEnvironmentVariable("HEADWISE_BENCH_THREADS") ?? "1"}");
        var full = Spawn(model, "plain", budget, tokens);
        Console.WriteLine($"{"cache",-22} {"RSS growth MiB",15} {"ms/token@end",13} {"CPU ms/token",13} {"KV MiB",8}");
        Print("full (plain cache)", full, full);
        foreach (var p in policies) Print($"{p} {budget}", Spawn(model, p, budget, tokens), full);
        Console.WriteLine($"load: {File.ReadAllText("/proc/loadavg").Trim()}");
        Directory.Delete(dir, true);
        return 0;
    }

    private static void Print(string name, Result r, Result full) =>
        Console.WriteLine($"{name,-22} {r.GrowthMiB,15:F1} {r.MsPerToken,13:F2} {r.CpuMsPerToken,13:F2} {r.KvMiB,8:F1}   growth {100 * r.GrowthMiB / full.GrowthMiB:F0}% of full, " +
            $"{full.MsPerToken / r.MsPerToken:F2}x faster (wall), {full.CpuMsPerToken / r.CpuMsPerToken:F2}x (CPU)");

    private sealed record Result(double GrowthMiB, double MsPerToken, double CpuMsPerToken, double KvMiB);

    private static Result Spawn(string model, string policy, string budget, int tokens)
    {
        var self = Assembly.GetEntryAssembly()!.Location;
        var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
        if (!Environment.ProcessPath!.EndsWith(".Bench", StringComparison.Ordinal)) psi.ArgumentList.Add(self);
        foreach (var a in new[] { "kv-child", model, policy, budget, tokens.ToString(CultureInfo.InvariantCulture) }) psi.ArgumentList.Add(a);
        // A fixed mmap threshold: freed tensors go back to the OS, so RSS measures what is held, not glibc's heap policy.
        psi.Environment["MALLOC_MMAP_THRESHOLD_"] = "131072";
        // A 4 MiB gen0 budget: per-step managed garbage (policy score arrays) is collected instead of counting as cache.
        psi.Environment["DOTNET_GCgen0size"] = "400000";
        // No instrumented (PGO) tier: fewer recompilations of hot code after warm-up, whose code memory would count as growth.
        psi.Environment["DOTNET_TieredPGO"] = "0";
        using var p = Process.Start(psi)!;
        var line = p.StandardOutput.ReadToEnd().Trim().Split('\n')[^1];
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"child {policy} failed: {line}");
        var f = line.Split(' ').Select(x => double.Parse(x, CultureInfo.InvariantCulture)).ToArray();
        return new Result(f[0], f[1], f[2], f[3]);
    }

    private static int Child(string path, string policyName, string budget, int tokens)
    {
        // One thread: on a shared, oversubscribed machine a spinning thread pool measures the neighbours, not the cache.
        torch.set_num_threads(int.Parse(Environment.GetEnvironmentVariable("HEADWISE_BENCH_THREADS") ?? "1", CultureInfo.InvariantCulture));
        using var m = ModelLoader.Load(path);
        var gen = new Generator(m.Transformer);
        // Warm up kernels, allocator and JIT on a throwaway cache of the measured kind, so that the measured growth is the
        // cache and its decode temporaries, not the first compilation of its code.
        IKvCacheState Make(long capacity) => policyName == "plain"
            ? new FullKvCache(m.Spec, capacity)
            : new HeadWiseCache(m.Spec, KvPolicies.Create(policyName, KvBudget.Parse(budget), m.Spec));
        using (var warm = Make(64))
        {
            var w = gen.Prefill(warm, [1]);
            // Two rounds with pauses: hot methods are recompiled (tier 1) in the background after ~30 calls and a 100 ms lull.
            for (int round = 0; round < 2; round++)
            {
                for (int i = 0; i < 48; i++) w = gen.Step(warm, [Sampler.ArgMax(w)]);
                Thread.Sleep(500);
            }
        }
        GC.Collect();
        long before = Status("VmRSS:");
        IKvCacheState cache = Make(m.Spec.ContextLength);
        var logits = gen.Prefill(cache, [1]);
        var sw = new Stopwatch();
        var self = Process.GetCurrentProcess();
        TimeSpan cpu = default;
        for (int i = 1; i < tokens; i++)
        {
            if (i == tokens - Tail) { self.Refresh(); cpu = self.TotalProcessorTime; sw.Start(); }
            logits = gen.Step(cache, [Sampler.ArgMax(logits)]);
        }
        sw.Stop();
        self.Refresh();
        cpu = self.TotalProcessorTime - cpu;
        long peak = Status("VmHWM:");
        double kv = (cache is HeadWiseCache h ? h.AllocatedBytes : ((FullKvCache)cache).AllocatedBytes) / 1048576.0;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{(peak - before) / 1024.0:F2} {sw.Elapsed.TotalMilliseconds / Tail:F3} {cpu.TotalMilliseconds / Tail:F3} {kv:F2}"));
        ((IDisposable)cache).Dispose();
        return 0;
    }

    /// <summary>A /proc/self/status field in KiB.</summary>
    private static long Status(string field) =>
        long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith(field)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);

    private static int Arg(string[] a, string name, int fallback) => Array.IndexOf(a, name) is var i and >= 0 ? int.Parse(a[i + 1], CultureInfo.InvariantCulture) : fallback;
    private static string ArgS(string[] a, string name, string fallback) => Array.IndexOf(a, name) is var i and >= 0 ? a[i + 1] : fallback;
}
