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
/// `kv [--tokens 4096] [--budget 0.25] [--policies streaming,h2o] [--layers 16] [--compress context|question|chunked]`, on a random
/// Llama written here (MHA, so the KV cache dominates a decode step), once with the plain full cache and once per policy,
/// each in its own process so peak RSS is that run's.
/// - `context` (default; `question` is the same here: there is no question): the protocol kvpress compares on. Prefill a
///   --tokens context of random tokens in 512-token chunks, compress once, then decode 160 tokens; time the last 128.
///   Acceptance (issue 16): snapkv at budget 0.25 decodes at least 1.5x faster per token than the full cache.
/// - `chunked`: decode --tokens tokens after BOS through a cache that evicts every step; time the last 128 (context ~
///   --tokens) and the peak-RSS growth during decoding. Acceptance (issue 7): growth &lt;= 40% of full's, >= 1.5x faster.
/// Times are wall-clock and the process's CPU time (one torch thread, so CPU time is the work done; on a shared,
/// oversubscribed machine wall time mostly measures the neighbours).
/// </summary>
public static class KvBench
{
    private const int Tail = 128;
    /// <summary>Decode steps after a one-shot compression: a few to settle, then the timed tail.</summary>
    private const int Decoded = Tail + 32;

    public static int Main(string[] args)
    {
        if (args[0] == "kv-child") return Child(args[1], args[2], args[3], int.Parse(args[4], CultureInfo.InvariantCulture), CompressModes.Parse(args[5]));
        int tokens = Arg(args, "--tokens", 4096);
        // 16 layers: the KV cache (130 MiB at 4,096 tokens) dwarfs the few MiB of process overhead (managed heap, code)
        // that do not shrink with the budget, as the cache of any real model at this length does.
        int layers = Arg(args, "--layers", 16);
        string budget = ArgS(args, "--budget", "0.25");
        var policies = ArgS(args, "--policies", "streaming,h2o").Split(',');
        var compress = CompressModes.Parse(ArgS(args, "--compress", CompressModes.Default.Name()));
        var dir = Path.Combine(Path.GetTempPath(), $"hw-kvbench-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        var model = RandomLlamaGguf.Write(Path.Combine(dir, "random-mha.gguf"),
            new RandomLlamaConfig(Layers: layers, Dim: 256, Heads: 8, KvHeads: 8, FfnDim: 256, Vocab: 512, Context: tokens + Decoded + 64));
        Console.WriteLine($"model: {layers} layers, 8 heads = 8 KV heads, head size 32; full KV at {tokens} tokens = {(long)layers * 8 * tokens * 32 * 8 / 1048576.0:F1} MiB");
        Console.WriteLine($"load: {File.ReadAllText("/proc/loadavg").Trim()}; torch threads per run: {Environment.GetEnvironmentVariable("HEADWISE_BENCH_THREADS") ?? "1"}; " +
            (compress == CompressMode.Chunked ? $"decoding {tokens} tokens after BOS, evicting every step" : $"a {tokens}-token context compressed once, then {Decoded} decoded tokens"));
        var full = Spawn(model, "plain", budget, tokens, compress);
        Console.WriteLine($"{"cache",-22} {"RSS growth MiB",15} {"ms/token@end",13} {"CPU ms/token",13} {"KV MiB",8}");
        Print("full (plain cache)", full, full);
        foreach (var p in policies) Print($"{p} {budget}", Spawn(model, p, budget, tokens, compress), full);
        Console.WriteLine($"load: {File.ReadAllText("/proc/loadavg").Trim()}");
        Directory.Delete(dir, true);
        return 0;
    }

    private static void Print(string name, Result r, Result full) =>
        Console.WriteLine($"{name,-22} {r.GrowthMiB,15:F1} {r.MsPerToken,13:F2} {r.CpuMsPerToken,13:F2} {r.KvMiB,8:F1}   growth {100 * r.GrowthMiB / full.GrowthMiB:F0}% of full, " +
            $"{full.MsPerToken / r.MsPerToken:F2}x faster (wall), {full.CpuMsPerToken / r.CpuMsPerToken:F2}x (CPU)");

    private sealed record Result(double GrowthMiB, double MsPerToken, double CpuMsPerToken, double KvMiB);

    private static Result Spawn(string model, string policy, string budget, int tokens, CompressMode compress)
    {
        var self = Assembly.GetEntryAssembly()!.Location;
        var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
        if (!Environment.ProcessPath!.EndsWith(".Bench", StringComparison.Ordinal)) psi.ArgumentList.Add(self);
        foreach (var a in new[] { "kv-child", model, policy, budget, tokens.ToString(CultureInfo.InvariantCulture), compress.Name() }) psi.ArgumentList.Add(a);
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

    private static int Child(string path, string policyName, string budget, int tokens, CompressMode compress)
    {
        // One thread: on a shared, oversubscribed machine a spinning thread pool measures the neighbours, not the cache.
        torch.set_num_threads(int.Parse(Environment.GetEnvironmentVariable("HEADWISE_BENCH_THREADS") ?? "1", CultureInfo.InvariantCulture));
        using var m = ModelLoader.Load(path);
        var gen = new Generator(m.Transformer);
        bool oneShot = compress != CompressMode.Chunked;
        IKvCache Make(long capacity) => policyName == "plain"
            ? new FullKvCache(m.Spec, capacity)
            : KvPolicies.Create(policyName, KvBudget.Parse(budget), m.Spec).CreateCache(compress);
        var rng = new Random(7);
        int[] Context(int n) => [1, .. Enumerable.Range(1, n - 1).Select(_ => rng.Next(2, m.Spec.VocabSize))];
        // Warm up kernels, allocator and JIT on a throwaway cache of the measured kind, so that the measured growth is the
        // cache and its decode temporaries, not the first compilation of its code.
        using (var warm = Make(64))
        {
            var w = gen.Prefill(warm, oneShot ? Context(600) : [1]);
            warm.Compress();
            // Two rounds with pauses: hot methods are recompiled (tier 1) in the background after ~30 calls and a 100 ms lull.
            for (int round = 0; round < 2; round++)
            {
                for (int i = 0; i < 48; i++) w = gen.Step(warm, [Sampler.ArgMax(w)]);
                Thread.Sleep(500);
            }
        }
        GC.Collect();
        long before = HeadWise.Eval.ProcessMemory.CurrentRss() / 1024;
        IKvCache cache = Make(m.Spec.ContextLength);
        // One-shot: the whole context, one compression, then a short decode; chunked: BOS, then decode to --tokens.
        var logits = gen.Prefill(cache, oneShot ? Context(tokens) : [1]);
        cache.Compress();
        int steps = oneShot ? Decoded : tokens - 1;
        var sw = new Stopwatch();
        var self = Process.GetCurrentProcess();
        TimeSpan cpu = default;
        for (int i = 0; i < steps; i++)
        {
            if (i == steps - Tail) { self.Refresh(); cpu = self.TotalProcessorTime; sw.Start(); }
            logits = gen.Step(cache, [Sampler.ArgMax(logits)]);
        }
        sw.Stop();
        self.Refresh();
        cpu = self.TotalProcessorTime - cpu;
        long peak = HeadWise.Eval.ProcessMemory.PeakRss() / 1024;
        double kv = (cache is HeadWiseKvCache h ? h.AllocatedBytes : ((FullKvCache)cache).AllocatedBytes) / 1048576.0;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{(peak - before) / 1024.0:F2} {sw.Elapsed.TotalMilliseconds / Tail:F3} {cpu.TotalMilliseconds / Tail:F3} {kv:F2}"));
        cache.Dispose();
        return 0;
    }


    private static int Arg(string[] a, string name, int fallback) => Array.IndexOf(a, name) is var i and >= 0 ? int.Parse(a[i + 1], CultureInfo.InvariantCulture) : fallback;
    private static string ArgS(string[] a, string name, string fallback) => Array.IndexOf(a, name) is var i and >= 0 ? a[i + 1] : fallback;
}
