using LLama;
using LLama.Common;
using LLama.Native;

namespace HeadWise.Tests.Oracles;

/// <summary>llama.cpp through LLamaSharp: the independent implementation HeadWise's numerics are checked against.</summary>
public sealed class LlamaCpp : IDisposable
{
    private static readonly object NativeGate = new();
    // llama.cpp's recent log lines, so that a refused file's error names llama.cpp's reason.
    private static readonly Queue<string> RecentLog = new();
    private static readonly NativeLogConfig.LLamaLogCallback LogSink = (_, message) =>
    {
        lock (RecentLog) { RecentLog.Enqueue(message); while (RecentLog.Count > 40) RecentLog.Dequeue(); }
    };
    private static bool _logHooked;
    private readonly LLamaWeights _weights;
    private readonly LLamaContext _context;

    /// <param name="kvType">KV cache element type: F32 for numerical checks (llama.cpp's CPU default, F16, would add its
    /// own rounding); F16 where a benchmark compares with HeadWise's 16-bit cache.</param>
    public LlamaCpp(string ggufPath, int contextSize, int? threads = null, GGMLType kvType = GGMLType.GGML_TYPE_F32)
    {
        var p = new ModelParams(ggufPath)
        {
            ContextSize = (uint)contextSize, BatchSize = (uint)contextSize, UBatchSize = (uint)contextSize,
            Threads = threads ?? Environment.ProcessorCount, BatchThreads = threads ?? Environment.ProcessorCount,
            TypeK = kvType, TypeV = kvType, FlashAttention = false, GpuLayerCount = 0,
        };
        lock (NativeGate)
        {
            if (!_logHooked) { NativeLogConfig.llama_log_set(LogSink); _logHooked = true; }
            try { _weights = LLamaWeights.LoadFromFile(p); }
            catch (LLama.Exceptions.LoadWeightsFailedException e)
            {
                string log;
                lock (RecentLog) log = string.Concat(RecentLog.Where(l => l.Contains("error", StringComparison.OrdinalIgnoreCase) || l.Contains("fail", StringComparison.OrdinalIgnoreCase)));
                throw new InvalidOperationException($"llama.cpp refused {ggufPath}: {log.Trim()}", e);
            }
            _context = _weights.CreateContext(p);
        }
    }

    public int VocabSize => _context.Vocab.Count;

    /// <summary>
    /// llama.cpp's own quantizer (llama_model_quantize) writes <paramref name="destination"/> from <paramref name="source"/>.
    /// <paramref name="quantizeOutput"/>: whether output.weight is quantized too, as the `llama-quantize` tool does (its
    /// Q4_K_M writes it as Q6_K); LLamaSharp's own default leaves it in the source type.
    /// </summary>
    public static void Quantize(string source, string destination, LLamaFtype ftype, int threads, bool quantizeOutput)
    {
        lock (NativeGate)
        {
            NativeApi.llama_empty_call();   // loads the native library, as creating a model would
            if (!LLama.LLamaQuantizer.Quantize(source, destination, ftype, threads, allowRequantize: true, quantizeOutputTensor: quantizeOutput))
                throw new InvalidOperationException($"llama.cpp could not quantize {source} to {ftype}");
        }
    }

    public int[] Tokenize(string text, bool addBos) => _context.Tokenize(text, addBos, special: true).Select(t => (int)t).ToArray();

    /// <summary>Logits [T][vocab] for every position of <paramref name="tokens"/>, decoded from an empty cache in one batch.</summary>
    public float[][] Logits(IReadOnlyList<int> tokens)
    {
        _context.NativeHandle.MemoryClear(true);
        var batch = new LLamaBatch();
        for (int i = 0; i < tokens.Count; i++) batch.Add(tokens[i], i, LLamaSeqId.Zero, true);
        var r = _context.Decode(batch);
        if (r != DecodeResult.Ok) throw new InvalidOperationException($"llama.cpp decode failed: {r}");
        var result = new float[tokens.Count][];
        for (int i = 0; i < tokens.Count; i++) result[i] = _context.NativeHandle.GetLogitsIth(i).ToArray();
        return result;
    }

    /// <summary>Decodes <paramref name="tokens"/> from an empty cache in one batch, computing only the last logits (prefill timing).</summary>
    public void Prefill(IReadOnlyList<int> tokens)
    {
        _context.NativeHandle.MemoryClear(true);
        var batch = new LLamaBatch();
        for (int i = 0; i < tokens.Count; i++) batch.Add(tokens[i], i, LLamaSeqId.Zero, i == tokens.Count - 1);
        if (_context.Decode(batch) != DecodeResult.Ok) throw new InvalidOperationException("llama.cpp decode failed");
    }

    /// <summary>Greedy continuation of <paramref name="prompt"/> by <paramref name="count"/> tokens, one decode per token.</summary>
    public List<int> Greedy(IReadOnlyList<int> prompt, int count) => Greedy(prompt, count, out _);

    /// <summary>As <see cref="Greedy(IReadOnlyList{int}, int)"/>, also timing the decode steps alone (after the prefill).</summary>
    public List<int> Greedy(IReadOnlyList<int> prompt, int count, out TimeSpan decodeTime) => Greedy(prompt, count, out decodeTime, out _);

    /// <summary>As above, also the process's CPU time during the decode steps (a benchmark's measure on a busy machine).</summary>
    public List<int> Greedy(IReadOnlyList<int> prompt, int count, out TimeSpan decodeTime, out TimeSpan decodeCpu)
    {
        _context.NativeHandle.MemoryClear(true);
        var batch = new LLamaBatch();
        for (int i = 0; i < prompt.Count; i++) batch.Add(prompt[i], i, LLamaSeqId.Zero, i == prompt.Count - 1);
        if (_context.Decode(batch) != DecodeResult.Ok) throw new InvalidOperationException("llama.cpp decode failed");
        var output = new List<int>();
        int pos = prompt.Count;
        var process = System.Diagnostics.Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int n = 0; n < count; n++)
        {
            var logits = _context.NativeHandle.GetLogitsIth(batch.TokenCount - 1);
            int next = 0;
            for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[next]) next = i;
            output.Add(next);
            batch.Clear();
            batch.Add(next, pos++, LLamaSeqId.Zero, true);
            if (_context.Decode(batch) != DecodeResult.Ok) throw new InvalidOperationException("llama.cpp decode failed");
        }
        decodeTime = clock.Elapsed;
        process.Refresh();
        decodeCpu = process.TotalProcessorTime - cpu;
        return output;
    }

    public void Dispose()
    {
        _context.Dispose();
        _weights.Dispose();
    }
}
