using System.Diagnostics;
using System.Text.Json;
using HeadWise.Formats.Gguf;
using HeadWise.Generation;
using HeadWise.Models;
using HeadWise.Tests.Fixtures;

namespace HeadWise.Bench;

/// <summary>
/// Issue 17, acceptance 4: an 8B-class model on this 24 GB machine. `big-model` writes a random Llama-3-8B-shaped
/// checkpoint (dim 4096, 32 layers, 32 query / 8 KV heads, FFN 14336, vocab 128256) as an F16 GGUF, quantizes it to
/// Q4_K_M with llama.cpp's own quantizer (llama_model_quantize through LLamaSharp), deletes the F16 file, then loads the
/// Q4_K_M file in a child process (HeadWise's default for quantized files: bf16 weights in memory), generates tokens
/// greedily and reports load time, time per token and peak RSS (VmHWM) against the bf16 weight bytes plus the runtime's
/// fixed start-up (VmHWM after libtorch starts, before the file is opened). It removes its files unless --keep.
/// Needs about 21 GB of disk at its peak (F16 16.1 GB + Q4_K_M 4.9 GB) and about 17 GB of free memory.
/// </summary>
internal static class BigModelBench
{
    private sealed record Shape(int Dim, int Layers, int Heads, int KvHeads, int Ffn, int Vocab, int Context)
    {
        public int HeadDim => Dim / Heads;
        public long Parameters => 2L * Vocab * Dim + Dim + Layers * (2L * Dim + 2L * Dim * Dim + 2L * Dim * KvHeads * HeadDim + 3L * Dim * Ffn);
    }

    private static readonly Shape Llama3_8B = new(4096, 32, 32, 8, 14336, 128256, 8192);

    public static int Run(string[] args)
    {
        if (args.FirstOrDefault() == "--load-child") return LoadChild(args[1], int.Parse(args[2]));
        string dir = Arg(args, "--dir") ?? Path.Combine(Path.GetTempPath(), "headwise-8b");
        int tokens = int.Parse(Arg(args, "--tokens") ?? "16");
        bool keep = args.Contains("--keep");
        string json = Arg(args, "--json") ?? "bench-big-model.json";
        // --shape small: the same pipeline on a 2-layer model, to check the command in seconds.
        var shape = Arg(args, "--shape") == "small" ? new Shape(256, 2, 8, 2, 768, 1024, 512) : Llama3_8B;
        Directory.CreateDirectory(dir);
        string f16 = Path.Combine(dir, "llama3-8b-shape-f16.gguf"), q4 = Path.Combine(dir, "llama3-8b-shape-q4_k_m.gguf");
        long f16Bytes = shape.Parameters * 2;
        Console.Error.WriteLine($"{shape.Parameters / 1e9:F2}B parameters; needs ~{(f16Bytes + 5.0e9) / 1e9:F0} GB of disk in {dir} " +
                                $"(free {new DriveInfo(dir).AvailableFreeSpace / 1e9:F0} GB) and ~{f16Bytes / 1e9 + 1:F0} GB of memory " +
                                $"(available {MemAvailableBytes() / 1e9:F1} GB); load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        try
        {
            var sw = Stopwatch.StartNew();
            if (!File.Exists(q4))
            {
                if (!File.Exists(f16)) WriteF16(f16, shape);
                double writeSeconds = sw.Elapsed.TotalSeconds;
                Console.Error.WriteLine($"wrote {f16} ({new FileInfo(f16).Length / 1e9:F2} GB) in {writeSeconds:F0} s; quantizing to Q4_K_M ...");
                sw.Restart();
                // As `llama-quantize ... Q4_K_M` writes it, output.weight included (Q6_K), like the files people download.
                Tests.Oracles.LlamaCpp.Quantize(f16, q4, LLama.Native.LLamaFtype.MOSTLY_Q4_K_M, Environment.ProcessorCount, quantizeOutput: true);
                Console.Error.WriteLine($"quantized in {sw.Elapsed.TotalSeconds:F0} s: {q4} ({new FileInfo(q4).Length / 1e9:F2} GB)");
                File.Delete(f16);
            }
            long fileBytes = new FileInfo(q4).Length;
            using (var f = GgufFile.Open(q4))
                Console.Error.WriteLine("tensor types: " + string.Join(", ", f.Tensors.GroupBy(t => t.Type).Select(g => $"{g.Key} x{g.Count()}")));
            var result = JsonSerializer.Deserialize<ChildResult>(Child(q4, tokens))!;
            double budget = 1.15 * result.WeightBytes + result.StartupHwmBytes;
            Console.WriteLine($"| model | file | weights in memory (bf16) | runtime start-up | peak RSS | limit 1.15 x weights + start-up | load | time per token |");
            Console.WriteLine("|---|---|---|---|---|---|---|---|");
            Console.WriteLine($"| Llama-3-8B shape, random, Q4_K_M | {fileBytes / 1e9:F2} GB | {result.WeightBytes / 1e9:F2} GB | {result.StartupHwmBytes / 1e6:F0} MB | " +
                              $"{result.PeakHwmBytes / 1e9:F2} GB ({(result.PeakHwmBytes - result.StartupHwmBytes) / (double)result.WeightBytes:F3} x weights + start-up) | " +
                              $"{budget / 1e9:F2} GB | {result.LoadSeconds:F1} s | {result.SecondsPerToken:F2} s |");
            Console.WriteLine($"generated {result.Tokens} tokens: {string.Join(" ", result.Ids)}");
            File.WriteAllText(json, JsonSerializer.Serialize(new { file_bytes = fileBytes, result, limit_bytes = budget, within_limit = result.PeakHwmBytes <= budget },
                new JsonSerializerOptions { WriteIndented = true }));
            return result.PeakHwmBytes <= budget ? 0 : 1;
        }
        finally
        {
            if (!keep) { File.Delete(f16); File.Delete(q4); }
        }
    }

    public sealed record ChildResult(long StartupHwmBytes, long PeakHwmBytes, long AfterLoadHwmBytes, long WeightBytes, double LoadSeconds,
        double SecondsPerToken, int Tokens, int[] Ids, string Compute);

    /// <summary>Loads the file with default options, generates greedily from BOS, and reports VmHWM at each stage.</summary>
    private static int LoadChild(string path, int tokens)
    {
        Runtime.Torch.EnsureStarted();
        long startup = Hwm();
        var sw = Stopwatch.StartNew();
        using var m = ModelLoader.Load(path);
        double load = sw.Elapsed.TotalSeconds;
        long afterLoad = Hwm();
        var gen = new Generator(m.Transformer);
        int v = m.Spec.VocabSize;
        int[] prompt = [m.Tokenizer.BosId ?? 1, 1000 % v, 2000 % v, 3000 % v];
        sw.Restart();
        var ids = gen.Generate(prompt, tokens, new Sampler(0), eos: null);
        double perToken = sw.Elapsed.TotalSeconds / tokens;   // prefill of the 4-token prompt included: one forward each
        Console.WriteLine(JsonSerializer.Serialize(new ChildResult(startup, Hwm(), afterLoad, m.Transformer.Weights.Bytes, load, perToken,
            ids.Count, [.. ids], m.Spec.Compute.Name())));
        return 0;
    }

    private static string Child(string path, int tokens)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") psi.ArgumentList.Add(typeof(BigModelBench).Assembly.Location);
        foreach (var a in new[] { "big-model", "--load-child", path, tokens.ToString() }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var text = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"the loading child failed ({p.ExitCode})");
        return text.Trim().Split('\n')[^1];
    }

    /// <summary>
    /// The F16 GGUF, written tensor by tensor from a counter-based generator (no tensor is ever held as floats):
    /// uniform values with the standard deviations RandomLlamaGguf uses, so activations and logits stay in range.
    /// </summary>
    private static void WriteF16(string path, Shape s)
    {
        var (pieces, scores, types) = RandomLlamaGguf.Vocabulary(s.Vocab, new Random(8));
        var meta = new List<KeyValuePair<string, object>>
        {
            new("general.architecture", "llama"), new("general.name", "random-llama3-8b-shape"), new("general.file_type", 1u),
            new("llama.context_length", (uint)s.Context), new("llama.embedding_length", (uint)s.Dim), new("llama.block_count", (uint)s.Layers),
            new("llama.feed_forward_length", (uint)s.Ffn), new("llama.rope.dimension_count", (uint)s.HeadDim),
            new("llama.attention.head_count", (uint)s.Heads), new("llama.attention.head_count_kv", (uint)s.KvHeads),
            new("llama.attention.layer_norm_rms_epsilon", 1e-5f), new("llama.rope.freq_base", 500000f), new("llama.vocab_size", (uint)s.Vocab),
            new("tokenizer.ggml.model", "llama"), new("tokenizer.ggml.tokens", pieces), new("tokenizer.ggml.scores", scores),
            new("tokenizer.ggml.token_type", types), new("tokenizer.ggml.bos_token_id", 1u), new("tokenizer.ggml.eos_token_id", 2u),
            new("tokenizer.ggml.unknown_token_id", 0u),
        };
        int d = s.Dim, q = s.Heads * s.HeadDim, kv = s.KvHeads * s.HeadDim, f = s.Ffn;
        ulong seed = 0;
        GgufTensorData T(string name, float std, params long[] torchShape) =>
            GgufTensorData.Generated(name, torchShape.Reverse().ToArray(), GgmlType.F16, Uniform(++seed, std));
        GgufTensorData Norm(string name) => GgufTensorData.Generated(name, [d], GgmlType.F32, (_, span) => span.Fill(1f));
        var tensors = new List<GgufTensorData> { T("token_embd.weight", 1f, s.Vocab, d) };
        for (int l = 0; l < s.Layers; l++)
        {
            string p = $"blk.{l}.";
            tensors.AddRange([Norm(p + "attn_norm.weight"), T(p + "attn_q.weight", 2f / MathF.Sqrt(d), q, d), T(p + "attn_k.weight", 2f / MathF.Sqrt(d), kv, d),
                T(p + "attn_v.weight", 1f / MathF.Sqrt(d), kv, d), T(p + "attn_output.weight", 1f / MathF.Sqrt(q), d, q), Norm(p + "ffn_norm.weight"),
                T(p + "ffn_gate.weight", 1f / MathF.Sqrt(d), f, d), T(p + "ffn_up.weight", 1f / MathF.Sqrt(d), f, d), T(p + "ffn_down.weight", 1f / MathF.Sqrt(f), d, f)]);
        }
        tensors.Add(Norm("output_norm.weight"));
        tensors.Add(T("output.weight", 0.3f / MathF.Sqrt(d / 128f), s.Vocab, d));
        GgufWriter.Write(path, meta, tensors);
    }

    /// <summary>Element i of a tensor is a SplitMix64 hash of (seed, i) mapped to U(-a, a) with a = std * sqrt(3):
    /// deterministic, and chunks fill in parallel.</summary>
    private static Action<long, Span<float>> Uniform(ulong seed, float std) => (start, span) =>
    {
        float a = std * MathF.Sqrt(3f);
        var buffer = span.ToArray();
        Parallel.For(0, (buffer.Length + 65535) / 65536, c =>
        {
            int from = c * 65536, to = Math.Min(buffer.Length, from + 65536);
            for (int i = from; i < to; i++)
            {
                ulong z = (seed << 40) + (ulong)(start + i) + 0x9E3779B97F4A7C15UL;
                z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
                z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
                z ^= z >> 31;
                buffer[i] = ((z >> 40) * (1f / (1 << 24)) * 2f - 1f) * a;
            }
        });
        buffer.CopyTo(span);
    };

    private static long Hwm() => HeadWise.Eval.ProcessMemory.PeakRss();

    private static long MemAvailableBytes() => HeadWise.Eval.ProcessMemory.Available() ?? 0;

    private static string? Arg(string[] args, string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
}
