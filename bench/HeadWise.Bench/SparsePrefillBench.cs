using System.Diagnostics;
using HeadWise.KvCache;
using HeadWise.Models;
using HeadWise.Prefill;
using HeadWise.Tests.Fixtures;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Bench;

/// <summary>
/// `sparse-prefill [--keep-freed-memory] [tokens] [rounds] [method[:k=v,..] ...]` (default: proxyattn dhsa, their defaults):
/// issue 19's speed check. The allocator runs as in HeadWise itself (each long forward call reuses glibc's heap,
/// <see cref="Runtime.HeapReuse"/>); --keep-freed-memory sets the whole process to keep it (<see cref="GlibcHeap"/>), for comparison. Writes a ~110M-parameter
/// Llama with random weights and an 8,192-token window (12 layers, 768 wide, 12 heads, FFN 2,048, vocabulary 32,000),
/// then prefills the same prompt densely (full cache) and with each sparse prefill, interleaved round by round in one
/// process; prints the median seconds per prefill (CPU time of the process, which a busy shared machine does not
/// inflate the way it inflates wall time, and wall time), the CPU seconds spent in attention (the caches' Attend), the
/// speed-up over dense and the share of attention blocks computed.
/// </summary>
internal static class SparsePrefillBench
{
    public static int Run(string[] args)
    {
        bool keep = args.Contains("--keep-freed-memory");
        args = [.. args.Where(a => a != "--keep-freed-memory")];
        string allocator = keep && GlibcHeap.KeepFreedMemory() ? "whole process keeps freed memory (M_MMAP_MAX 0, M_TRIM_THRESHOLD 2 GiB)"
            : "as HeadWise runs (heap reused within each long forward call)";
        int tokens = args.Length > 0 ? int.Parse(args[0]) : 8192, rounds = args.Length > 1 ? int.Parse(args[1]) : 3;
        string[] rows = args.Length > 2 ? args[2..] : ["proxyattn", "dhsa"];
        var methods = rows.Select(r => r.Split(':', 2)).Select(r => SparsePrefills.Create(r[0], r.Length > 1 ? r[1] : null)).ToArray();
        var path = Path.Combine(Path.GetTempPath(), "headwise-bench", "llama-110m-8k-f32.gguf");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (!File.Exists(path))
        {
            Console.Error.WriteLine($"writing {path} ...");
            RandomLlamaGguf.Write(path, new RandomLlamaConfig(Layers: 12, Dim: 768, Heads: 12, KvHeads: 12, FfnDim: 2048, Vocab: 32000,
                Context: 8192, SeparateOutput: false, Seed: 110));
        }
        using var m = ModelLoader.Load(path);
        var rng = new Random(7);
        var ids = torch.tensor(Enumerable.Range(0, tokens).Select(_ => (long)rng.Next(3, m.Spec.VocabSize)).ToArray()).unsqueeze(0);
        var cases = new List<(string Name, Func<IKvCache> Cache, PrefillStats? Stats)> { ("dense", () => new FullKvCache(m.Spec), null) };
        foreach (var method in methods)
        {
            var stats = new PrefillStats();
            cases.Add(($"{method.Name} {method.Parameters}", () => new SparsePrefillCache(m.Spec, method, stats), stats));
        }
        var times = cases.ToDictionary(c => c.Name, _ => new List<double>());
        var attention = cases.ToDictionary(c => c.Name, _ => new List<double>());
        var walls = cases.ToDictionary(c => c.Name, _ => new List<double>());
        var self = Process.GetCurrentProcess();
        Console.Error.WriteLine($"{m.DisplayName}: {m.Spec.Layers} layers, {m.Spec.Dim} wide, {tokens} tokens, {rounds} rounds, {torch.get_num_threads()} threads, load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}, {allocator}");
        for (int r = 0; r < rounds; r++)
            foreach (var c in cases)
            {
                using var scope = torch.NewDisposeScope();
                using var cache = new Timed(c.Cache());
                self.Refresh();
                var cpu = self.TotalProcessorTime;
                var sw = Stopwatch.StartNew();
                using (torch.no_grad()) m.Transformer.Forward(ids, cache, lastOnly: true);
                self.Refresh();
                times[c.Name].Add((self.TotalProcessorTime - cpu).TotalSeconds);
                attention[c.Name].Add(cache.Seconds);
                walls[c.Name].Add(sw.Elapsed.TotalSeconds);
                Console.Error.WriteLine($"round {r + 1} {c.Name}: {times[c.Name][^1]:F1} s CPU (attention {cache.Seconds:F1} s), {sw.Elapsed.TotalSeconds:F1} s wall");
            }
        double dense = Median(times["dense"]);
        double denseWall = Median(walls["dense"]);
        Console.WriteLine($"Allocator: {allocator}; load at the end {File.ReadAllText("/proc/loadavg").Split(' ')[0]}.");
        Console.WriteLine();
        Console.WriteLine($"| prefill ({tokens} tokens, {m.DisplayName}, random weights) | median CPU s | of which attention | speed-up (CPU) | median wall s | speed-up (wall) | attention blocks computed |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var c in cases)
            Console.WriteLine($"| {c.Name} | {Median(times[c.Name]):F1} | {Median(attention[c.Name]):F1} | {dense / Median(times[c.Name]):F2}x | {Median(walls[c.Name]):F1} | {denseWall / Median(walls[c.Name]):F2}x | {(c.Stats is null ? 1 : c.Stats.Share) * 100:F1}% |");
        return 0;
    }

    /// <summary>A cache that sums the process's CPU seconds spent in attention (the cache's Attend: append, selection and kernel).</summary>
    private sealed class Timed(IKvCache inner) : IKvCache
    {
        private readonly Process _self = Process.GetCurrentProcess();
        public double Seconds { get; private set; }
        public long Length => inner.Length;
        public long Bytes => inner.Bytes;
        public long PeakBytes => inner.PeakBytes;
        public long MaxLength => inner.MaxLength;
        public void Advance(long t) => inner.Advance(t);
        public void Compress() => inner.Compress();
        public void Dispose() => inner.Dispose();

        public Tensor Attend(int layer, Tensor q, Tensor k, Tensor v, AttentionKernel attention)
        {
            _self.Refresh();
            var before = _self.TotalProcessorTime;
            var z = inner.Attend(layer, q, k, v, attention);
            _self.Refresh();
            Seconds += (_self.TotalProcessorTime - before).TotalSeconds;
            return z;
        }
    }

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }
}
