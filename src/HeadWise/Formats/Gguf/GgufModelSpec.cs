using HeadWise.Models;

namespace HeadWise.Formats.Gguf;

/// <summary>Reads a <see cref="ModelSpec"/> from GGUF metadata ("{arch}.block_count" and friends, as llama.cpp writes them).</summary>
internal static class GgufModelSpec
{
    public static readonly string[] SupportedArchitectures = ["llama", "mistral", "qwen2", "qwen3", "gpt2"];

    public static ModelSpec Read(GgufFile file)
    {
        string arch = file.Architecture;
        if (!SupportedArchitectures.Contains(arch))
            throw new InvalidModelFileException(file.Path,
                $"architecture {ErrorText.Quote(arch)} is not supported (supported: {string.Join(", ", SupportedArchitectures)})");
        int Int(string key) => ToInt(file, $"{arch}.{key}", file.GetInteger($"{arch}.{key}"));
        int? OptInt(string key) => file.TryGetInteger($"{arch}.{key}", out var v) ? ToInt(file, $"{arch}.{key}", v) : null;
        double? OptNum(string key) => file.TryGetNumber($"{arch}.{key}", out var v) ? v : null;

        int dim = Int("embedding_length"), heads = Int("attention.head_count");
        int vocab = file.TryGetInteger($"{arch}.vocab_size", out var vs) ? ToInt(file, $"{arch}.vocab_size", vs)
            : file.ContainsKey("tokenizer.ggml.tokens") ? file.GetArray<string>("tokenizer.ggml.tokens").Length
            : ToInt(file, "token_embd.weight rows", file.GetTensor("token_embd.weight").TorchShape[0]);
        bool gpt2 = arch == "gpt2";
        bool tied = !file.TryGetTensor("output.weight", out _);
        var spec = new ModelSpec
        {
            Architecture = arch,
            Name = file.TryGetString("general.name", out var n) ? n : System.IO.Path.GetFileNameWithoutExtension(file.Path),
            Layers = Int("block_count"),
            Dim = dim,
            Heads = heads,
            KvHeads = OptInt("attention.head_count_kv") ?? heads,
            HeadDim = OptInt("attention.key_length") ?? (heads > 0 ? dim / heads : 0),
            FfnDim = Int("feed_forward_length"),
            VocabSize = vocab,
            ContextLength = Int("context_length"),
            NormEps = gpt2 ? OptNum("attention.layer_norm_epsilon") ?? 1e-5 : OptNum("attention.layer_norm_rms_epsilon") ?? 1e-5,
            Norm = gpt2 ? NormKind.LayerNorm : NormKind.RmsNorm,
            FeedForward = gpt2 ? FeedForwardKind.GeluTanh : FeedForwardKind.SwiGlu,
            Positions = gpt2 ? PositionKind.Learned : PositionKind.Rope,
            // llama.cpp's converter permutes llama Q/K rows to adjacent pairs; qwen2/qwen3 keep Hugging Face halves (NeoX RoPE).
            Rope = arch is "qwen2" or "qwen3" ? RopeLayout.Halves : RopeLayout.Interleaved,
            RopeTheta = OptNum("rope.freq_base") ?? 10000,
            RopeScaling = ReadRopeScaling(file, arch),
            QkNorm = arch == "qwen3",
            TiedEmbeddings = tied,
            WeightType = file.GetTensor("token_embd.weight").Type.ToString(),
        };
        if (heads > 0 && dim % heads != 0 && OptInt("attention.key_length") is null)
            throw new InvalidModelFileException(file.Path, $"embedding_length {dim} is not divisible by head_count {heads}");
        spec.Validate(file.Path);
        return spec;
    }

    /// <summary>A count from the metadata as int; ModelSpec.Validate then checks its range.</summary>
    private static int ToInt(GgufFile file, string key, long value) =>
        value is >= 0 and <= int.MaxValue ? (int)value
            : throw new InvalidModelFileException(file.Path, $"metadata key {ErrorText.Quote(key)} is {value}, out of range (0..{int.MaxValue})");

    /// <summary>
    /// rope.scaling.* and the rope_freqs tensor (per-frequency divisors; llama.cpp's converter writes it for Llama 3.1's
    /// llama3 scaling, and llama.cpp applies it on top of a linear factor). ModelSpec.Validate checks the values.
    /// </summary>
    private static RopeScaling? ReadRopeScaling(GgufFile file, string arch)
    {
        bool typed = file.TryGetString($"{arch}.rope.scaling.type", out var type) && type != "none";
        double factor = typed && file.TryGetNumber($"{arch}.rope.scaling.factor", out var f) ? f : 1;
        if (file.TryGetTensor(RopeFreqsTensor, out var freqs))
        {
            if (freqs.Type != GgmlType.F32 || freqs.Shape.Length != 1 || freqs.ElementCount > 4096)
                throw new InvalidModelFileException(file.Path, $"tensor '{RopeFreqsTensor}' must be one F32 row of at most 4096 values");
            if (typed && type != "linear")
                throw new InvalidModelFileException(file.Path, $"rope scaling type {ErrorText.Quote(type!)} together with '{RopeFreqsTensor}' is not supported");
            return new RopeScaling("freq-factors", factor, FreqFactors: file.ReadFloats(freqs).Select(x => (double)x).ToArray());
        }
        return typed ? new RopeScaling(type!, factor) : null;
    }

    /// <summary>The GGUF tensor of per-frequency RoPE divisors.</summary>
    public const string RopeFreqsTensor = "rope_freqs.weight";
}
