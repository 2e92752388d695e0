using HeadWise.Formats.Gguf;

namespace HeadWise.Tests.Fixtures;

/// <summary>Shape of a random Llama checkpoint a test writes itself.</summary>
public sealed record RandomLlamaConfig(
    int Layers = 4, int Dim = 128, int Heads = 8, int KvHeads = 2, int FfnDim = 256, int Vocab = 1024,
    int Context = 1024, bool SeparateOutput = true, float RopeTheta = 10000, int Seed = 1234, float QkScale = 2)
{
    public int HeadDim => Dim / Heads;
}

/// <summary>
/// Writes a Llama-architecture GGUF with random weights and a synthetic SentencePiece-style vocabulary
/// (&lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;, 256 byte pieces, then word pieces), complete enough for llama.cpp to load.
/// Weight scales are chosen so that logits spread over several units (greedy choices are not near-ties).
/// </summary>
public static class RandomLlamaGguf
{
    public static string Write(string path, RandomLlamaConfig c)
    {
        var rng = new Random(c.Seed);
        var (pieces, scores, types) = Vocabulary(c.Vocab, rng);
        var meta = new List<KeyValuePair<string, object>>
        {
            new("general.architecture", "llama"),
            new("general.name", "random-llama"),
            new("llama.context_length", (uint)c.Context),
            new("llama.embedding_length", (uint)c.Dim),
            new("llama.block_count", (uint)c.Layers),
            new("llama.feed_forward_length", (uint)c.FfnDim),
            new("llama.rope.dimension_count", (uint)c.HeadDim),
            new("llama.attention.head_count", (uint)c.Heads),
            new("llama.attention.head_count_kv", (uint)c.KvHeads),
            new("llama.attention.layer_norm_rms_epsilon", 1e-5f),
            new("llama.rope.freq_base", c.RopeTheta),
            new("tokenizer.ggml.model", "llama"),
            new("tokenizer.ggml.tokens", pieces),
            new("tokenizer.ggml.scores", scores),
            new("tokenizer.ggml.token_type", types),
            new("tokenizer.ggml.bos_token_id", 1u),
            new("tokenizer.ggml.eos_token_id", 2u),
            new("tokenizer.ggml.unknown_token_id", 0u),
        };
        GgufWriter.Write(path, meta, Tensors(c, rng));
        return path;
    }

    /// <summary>The same weights with every matrix in BF16 (vectors stay F32, as llama.cpp's converter writes them): the
    /// checkpoint a bf16 user has. llama.cpp's quantizer would do it too, but LLamaSharp's wrapper refuses MOSTLY_BF16.</summary>
    public static string WriteBf16Copy(string f32Path, string path)
    {
        using var f = GgufFile.Open(f32Path);
        var meta = f.Metadata.Where(kv => kv.Key != "general.file_type").Append(new("general.file_type", 32u));   // LLAMA_FTYPE_MOSTLY_BF16
        var tensors = f.Tensors.Select(t => new GgufTensorData(t.Name, t.Shape, t.Shape.Length >= 2 ? GgmlType.BF16 : GgmlType.F32, f.ReadFloats(t))).ToList();
        GgufWriter.Write(path, meta, tensors);
        return path;
    }

    private static IEnumerable<GgufTensorData> Tensors(RandomLlamaConfig c, Random rng)
    {
        int d = c.Dim, q = c.Heads * c.HeadDim, kv = c.KvHeads * c.HeadDim, f = c.FfnDim;
        // ggml order: ne[0] is the input (fastest) dimension, so a torch [out, in] matrix is written as [in, out].
        GgufTensorData T(string name, float std, params long[] torchShape) =>
            new(name, torchShape.Reverse().ToArray(), GgmlType.F32, Gaussian(rng, torchShape.Aggregate(1L, (a, b) => a * b), std));
        GgufTensorData Norm(string name) => new(name, [d], GgmlType.F32, Enumerable.Range(0, d).Select(_ => 1f + 0.1f * (float)Normal(rng)).ToArray());

        yield return T("token_embd.weight", 1f, c.Vocab, d);
        for (int l = 0; l < c.Layers; l++)
        {
            string p = $"blk.{l}.";
            yield return Norm(p + "attn_norm.weight");
            yield return T(p + "attn_q.weight", c.QkScale / MathF.Sqrt(d), q, d);
            yield return T(p + "attn_k.weight", c.QkScale / MathF.Sqrt(d), kv, d);
            yield return T(p + "attn_v.weight", 1f / MathF.Sqrt(d), kv, d);
            yield return T(p + "attn_output.weight", 1f / MathF.Sqrt(q), d, q);
            yield return Norm(p + "ffn_norm.weight");
            yield return T(p + "ffn_gate.weight", 1f / MathF.Sqrt(d), f, d);
            yield return T(p + "ffn_up.weight", 1f / MathF.Sqrt(d), f, d);
            yield return T(p + "ffn_down.weight", 1f / MathF.Sqrt(f), d, f);
        }
        yield return Norm("output_norm.weight");
        if (c.SeparateOutput) yield return T("output.weight", 0.3f, c.Vocab, d);
    }

    public static (string[] Pieces, float[] Scores, int[] Types) Vocabulary(int size, Random rng)
    {
        var pieces = new List<string> { "<unk>", "<s>", "</s>" };
        var types = new List<int> { 2, 3, 3 };
        for (int b = 0; b < 256; b++) { pieces.Add($"<0x{b:X2}>"); types.Add(6); }
        var seen = new HashSet<string>(pieces);
        const string letters = "etaoinshrdlucmfwypvbgkjqxz";
        foreach (var ch in letters) { Add("▁" + ch); Add(ch.ToString()); }
        while (pieces.Count < size)
        {
            int len = 2 + rng.Next(4);
            var s = new string(Enumerable.Range(0, len).Select(_ => letters[rng.Next(letters.Length)]).ToArray());
            Add(rng.Next(2) == 0 ? "▁" + s : s);
        }
        var scores = pieces.Select((_, i) => types[i] == 1 ? -(float)i : 0f).ToArray();
        return (pieces.ToArray(), scores, types.ToArray());

        void Add(string p)
        {
            if (pieces.Count < size && seen.Add(p)) { pieces.Add(p); types.Add(1); }
        }
    }

    /// <summary>n samples of N(0, std^2) (Box-Muller), deterministic for the generator's seed.</summary>
    public static float[] Gaussian(Random rng, long n, float std)
    {
        var a = new float[n];
        for (long i = 0; i < n; i++) a[i] = (float)Normal(rng) * std;
        return a;
    }

    private static double Normal(Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
