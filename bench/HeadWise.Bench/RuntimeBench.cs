using System.Diagnostics;
using System.Text.Json;
using HeadWise.Formats.Gguf;
using HeadWise.Generation;
using HeadWise.KvCache;
using HeadWise.Models;
using HeadWise.Tests.Fixtures;
using HeadWise.Tests.Oracles;

namespace HeadWise.Bench;

/// <summary>
/// Issues 2 and 17: prefill (512-token prompt) and decode tokens/s for HeadWise and llama.cpp on the same GGUF and
/// threads, for stories260K and a ~110M-parameter Llama written here as F32 and as BF16, plus the machine's read
/// bandwidth in the same run. HeadWise computes in each file's default dtype (float32 for F32, bf16 for BF16);
/// llama.cpp's KV cache is F32 beside HeadWise's float32 cache and F16 beside its bf16 one.
/// </summary>
public static class RuntimeBench
{
    public static int Run(string[] args)
    {
        int threads = Environment.ProcessorCount, decodeTokens = 64, prompt = 512;
        string stories = "../shared/models/stories260K/stories260K.gguf", json = "bench-runtime.json";
        for (int i = 0; i < args.Length - 1; i += 2)
            switch (args[i])
            {
                case "--threads": threads = int.Parse(args[i + 1]); break;
                case "--decode": decodeTokens = int.Parse(args[i + 1]); break;
                case "--stories": stories = args[i + 1]; break;
                case "--json": json = args[i + 1]; break;
            }
        Environment.SetEnvironmentVariable("HEADWISE_THREADS", threads.ToString());
        Console.Error.WriteLine($"threads {threads}; load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");

        double bandwidth = MemoryBandwidth.ReadGBps(threads);
        Console.Error.WriteLine($"memory read bandwidth {bandwidth:F1} GB/s");

        var (big, bigBf16) = Llama110M();

        var rows = new List<Row>();
        foreach (var (name, path) in new[] { ("stories260K", stories), ("llama-110M-f32", big), ("llama-110M-bf16", bigBf16) })
            rows.Add(Measure(name, path, threads, prompt, decodeTokens, bandwidth));

        Console.WriteLine($"| model | params | weight MB | HeadWise prefill tok/s | llama.cpp prefill tok/s | ratio | HeadWise decode tok/s | llama.cpp decode tok/s | ratio | " +
                          "HeadWise decode CPU ms/token | llama.cpp | ratio (llama.cpp / HeadWise) | HeadWise decode / bandwidth limit |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var r in rows)
            Console.WriteLine($"| {r.Model} | {r.Parameters / 1e6:F1}M | {r.WeightBytes / 1e6:F0} | {r.HwPrefill:F0} | {r.CppPrefill:F0} | {r.HwPrefill / r.CppPrefill:F2} | " +
                              $"{r.HwDecode:F1} | {r.CppDecode:F1} | {r.HwDecode / r.CppDecode:F2} | {r.HwDecodeCpuMs:F1} | {r.CppDecodeCpuMs:F1} | {r.CppDecodeCpuMs / r.HwDecodeCpuMs:F2} | " +
                              $"{r.DecodeFractionOfBandwidth:P0} |");
        Console.WriteLine($"\nmemory read bandwidth: {bandwidth:F1} GB/s ({threads} threads); load average at the end {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        File.WriteAllText(json, JsonSerializer.Serialize(new { threads, bandwidth_gbps = bandwidth, rows }, new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }

    /// <summary>The ~110M random Llama as F32 and as a BF16 copy (written once under the temp folder).</summary>
    public static (string F32, string Bf16) Llama110M()
    {
        var dir = Path.Combine(Path.GetTempPath(), "headwise-bench");
        Directory.CreateDirectory(dir);
        var big = Path.Combine(dir, "llama-110m-f32.gguf");
        if (!File.Exists(big))
        {
            Console.Error.WriteLine($"writing {big} ...");
            RandomLlamaGguf.Write(big, new RandomLlamaConfig(Layers: 12, Dim: 768, Heads: 12, KvHeads: 12, FfnDim: 2048, Vocab: 32000,
                Context: 1024, SeparateOutput: false, Seed: 110));
        }
        var bigBf16 = Path.Combine(dir, "llama-110m-bf16.gguf");
        if (!File.Exists(bigBf16)) RandomLlamaGguf.WriteBf16Copy(big, bigBf16);
        return (big, bigBf16);
    }

    public sealed record Row(string Model, long Parameters, long WeightBytes, double HwPrefill, double CppPrefill, double HwDecode, double CppDecode,
        double DecodeFractionOfBandwidth, double HwDecodeCpuMs, double CppDecodeCpuMs);

    private static Row Measure(string name, string path, int threads, int prompt, int decode, double bandwidthGBps)
    {
        var rng = new Random(5);
        using var loaded = ModelLoader.Load(path);
        var model = loaded.Transformer;
        var spec = model.Spec;
        var tokens = new[] { 1 }.Concat(Enumerable.Range(0, prompt - 1).Select(_ => rng.Next(3, spec.VocabSize))).ToArray();
        long weightBytes = model.Weights.Bytes;
        // Whether the weights got huge pages (HugePages.Block): on 4 KB pages a step streams them markedly slower.
        Console.Error.WriteLine($"{name}: weights {weightBytes / 1e6:F0} MB; process AnonHugePages " +
                                $"{(Eval.ProcessMemory.Field("/proc/self/smaps_rollup", "AnonHugePages:") ?? 0) / 1e6:F0} MB");

        // Both libraries the same way, in alternating rounds (HeadWise, then llama.cpp, four times), each keeping its best
        // prefill and best decode (`decode` greedy steps after the prompt): the first, JIT-compiling pass counts for
        // neither, and on a shared machine a noisy neighbour's burst lands on one round of one library, while a quiet
        // spell is offered to both.
        var gen = new Generator(model) { PrefillChunk = prompt };
        double hwPrefill = 0, hwDecode = 0, cppPrefill = 0, cppDecode = 0, hwCpu = double.MaxValue, cppCpu = double.MaxValue;
        var process = Process.GetCurrentProcess();
        using var cpp = new LlamaCpp(path, prompt + decode + 8, threads,
            spec.Compute == ComputeDType.BF16 ? LLama.Native.GGMLType.GGML_TYPE_F16 : LLama.Native.GGMLType.GGML_TYPE_F32);
        for (int round = 0; round < 4; round++)
        {
            using (var cache = new FullKvCache(spec, prompt + decode + 1))
            {
                var sw = Stopwatch.StartNew();
                var logits = gen.Prefill(cache, tokens);
                hwPrefill = Math.Max(hwPrefill, prompt / sw.Elapsed.TotalSeconds);
                process.Refresh();
                var cpu = process.TotalProcessorTime;
                sw.Restart();
                for (int i = 0; i < decode; i++) gen.Step(cache, [Sampler.ArgMax(logits)], ref logits); // reusing one array, as Generate does
                hwDecode = Math.Max(hwDecode, decode / sw.Elapsed.TotalSeconds);
                process.Refresh();
                double roundCpu = (process.TotalProcessorTime - cpu).TotalMilliseconds / decode;
                hwCpu = Math.Min(hwCpu, roundCpu);
                Console.Error.Write($"  round {round}: HeadWise decode {roundCpu:F2} ms CPU/token ({1e3 * sw.Elapsed.TotalSeconds / decode:F2} wall)");
            }
            var swc = Stopwatch.StartNew();
            cpp.Prefill(tokens);
            cppPrefill = Math.Max(cppPrefill, prompt / swc.Elapsed.TotalSeconds);
            cpp.Greedy(tokens, decode, out var decodeTime, out var decodeCpu);
            cppDecode = Math.Max(cppDecode, decode / decodeTime.TotalSeconds);
            cppCpu = Math.Min(cppCpu, decodeCpu.TotalMilliseconds / decode);
            Console.Error.WriteLine($", llama.cpp {decodeCpu.TotalMilliseconds / decode:F2} ({decodeTime.TotalMilliseconds / decode:F2} wall)");
        }
        double limit = bandwidthGBps * 1e9 / weightBytes; // tokens/s if every weight byte is read once per token at full bandwidth
        var row = new Row(name, model.Weights.ParameterCount, weightBytes, hwPrefill, cppPrefill, hwDecode, cppDecode, hwDecode / limit, hwCpu, cppCpu);
        Console.Error.WriteLine(row);
        return row;
    }
}
