namespace HeadWise.Models;

/// <summary>How the rotary embedding pairs dimensions within a head.</summary>
public enum RopeLayout
{
    /// <summary>Adjacent pairs (2i, 2i+1): GGUF "llama" and llama2.c (ggml's normal RoPE).</summary>
    Interleaved,
    /// <summary>Halves (i, i + d/2): Hugging Face checkpoints, GGUF qwen2/qwen3 (ggml's NeoX RoPE).</summary>
    Halves,
}

public enum NormKind { RmsNorm, LayerNorm }

public enum FeedForwardKind
{
    /// <summary>down(silu(gate(x)) * up(x)): Llama, Mistral, Qwen.</summary>
    SwiGlu,
    /// <summary>down(gelu(up(x))) with biases: GPT-2 (tanh approximation), BERT (erf).</summary>
    Gelu,
    GeluTanh,
}

public enum PositionKind { Rope, Learned }

/// <summary>
/// Element type of the weight matrices in memory and of the matrix products. Norms, softmax, the residual stream and
/// the logits stay float32 either way; the KV cache stores the compute type.
/// </summary>
public enum ComputeDType { F32, BF16 }

public static class ComputeDTypes
{
    public const string Names = "f32, bf16";

    /// <summary>--dtype's values; anything else is one error naming what is accepted.</summary>
    public static ComputeDType Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "f32" or "float32" or "fp32" => ComputeDType.F32,
        "bf16" or "bfloat16" => ComputeDType.BF16,
        "f16" or "float16" or "fp16" => throw new HeadWiseException(
            $"--dtype '{text}' is not supported ({Names}): libtorch's CPU float16 products are a slow fallback; bf16 keeps 16-bit weights"),
        _ => throw new HeadWiseException($"--dtype '{text}' is not supported ({Names})"),
    };

    /// <summary>The default for a checkpoint whose weights are stored as <paramref name="storedType"/>: float32 files
    /// compute in float32; BF16, F16 and quantised files in bf16 (16-bit weights in memory).</summary>
    public static ComputeDType DefaultFor(string storedType) => storedType == "F32" ? ComputeDType.F32 : ComputeDType.BF16;

    public static TorchSharp.torch.ScalarType ScalarType(this ComputeDType d) =>
        d == ComputeDType.BF16 ? TorchSharp.torch.ScalarType.BFloat16 : TorchSharp.torch.ScalarType.Float32;

    public static int ElementSize(this ComputeDType d) => d == ComputeDType.BF16 ? 2 : 4;

    public static string Name(this ComputeDType d) => d == ComputeDType.BF16 ? "bf16" : "f32";
}

/// <summary>
/// RoPE frequency scaling: Hugging Face's rope_scaling ("linear", "llama3"), or "freq-factors", one divisor per frequency as
/// GGUF files store it (llama.cpp's rope_freqs tensor, which its converter writes for llama3), times a linear factor.
/// </summary>
public sealed record RopeScaling(string Type, double Factor, double LowFreqFactor = 1, double HighFreqFactor = 4, int OriginalContext = 8192,
    IReadOnlyList<double>? FreqFactors = null)
{
    /// <summary>What each of the head's inverse frequencies base^(-2i/d) is divided by.</summary>
    public double[] Divisors(int headDim, double theta)
    {
        var d = new double[headDim / 2];
        for (int i = 0; i < d.Length; i++)
        {
            double wavelen = 2 * Math.PI * Math.Pow(theta, 2.0 * i / headDim);
            d[i] = Type switch
            {
                "linear" => Factor,
                "freq-factors" => Factor * FreqFactors![i],
                // Llama 3.1: high frequencies (short waves) kept, low ones divided by the factor, a smooth ramp between.
                "llama3" when wavelen < OriginalContext / HighFreqFactor => 1,
                "llama3" when wavelen > OriginalContext / LowFreqFactor => Factor,
                "llama3" => 1 / ((1 - Smooth(wavelen)) / Factor + Smooth(wavelen)),
                _ => throw new HeadWiseException($"rope_scaling type '{Type}' is not supported (supported: linear, llama3)"),
            };
        }
        return d;
    }

    private double Smooth(double wavelen) => (OriginalContext / wavelen - LowFreqFactor) / (HighFreqFactor - LowFreqFactor);
}

/// <summary>
/// Everything the forward pass needs to know about a checkpoint's shape, for every family.
/// One description, not one class per family: the families differ only in these switches.
/// </summary>
public sealed record ModelSpec
{
    /// <summary>Family name as the source calls it: llama, mistral, qwen2, qwen3, gpt2, bert.</summary>
    public required string Architecture { get; init; }
    public string Name { get; init; } = "";
    public required int Layers { get; init; }
    public required int Dim { get; init; }
    public required int Heads { get; init; }
    public required int KvHeads { get; init; }
    public required int HeadDim { get; init; }
    public required int FfnDim { get; init; }
    public required int VocabSize { get; init; }
    public required int ContextLength { get; init; }
    public double NormEps { get; init; } = 1e-5;
    public NormKind Norm { get; init; } = NormKind.RmsNorm;
    public FeedForwardKind FeedForward { get; init; } = FeedForwardKind.SwiGlu;
    public PositionKind Positions { get; init; } = PositionKind.Rope;
    public RopeLayout Rope { get; init; } = RopeLayout.Interleaved;
    public double RopeTheta { get; init; } = 10000;
    public RopeScaling? RopeScaling { get; init; }
    /// <summary>Per-head RMSNorm on q and k before RoPE (Qwen3).</summary>
    public bool QkNorm { get; init; }
    /// <summary>Causal decoder (true) or bidirectional encoder (BERT).</summary>
    public bool Causal { get; init; } = true;
    /// <summary>Norm after the residual add (BERT) instead of before the sublayer.</summary>
    public bool PostNorm { get; init; }
    /// <summary>Token-type embeddings (BERT); 0 when absent.</summary>
    public int TokenTypes { get; init; }
    /// <summary>Output matrix shares the token embedding.</summary>
    public bool TiedEmbeddings { get; init; }
    /// <summary>Element type the weights were stored in (for reports): F32, F16, BF16, Q8_0, Q4_K, ...</summary>
    public string WeightType { get; init; } = "F32";
    /// <summary>What the loaded model holds its matrices in and multiplies with (see <see cref="ComputeDType"/>).</summary>
    public ComputeDType Compute { get; init; } = ComputeDType.F32;
    /// <summary>The attention variant the model was trained with (<see cref="Variants.AttentionVariant"/>); null: softmax attention.</summary>
    public Variants.AttentionVariant? Attention { get; init; }

    public int GroupSize => Heads / KvHeads;
    public int QDim => Heads * HeadDim;
    public int KvDim => KvHeads * HeadDim;

    /// <summary>The most layers any loader accepts (the largest released models have about 128).</summary>
    public const int MaxLayers = 1024;

    /// <summary>
    /// Checks the numbers agree with each other and are finite and in range; throws naming the field that is not.
    /// Every loader calls it before anything is sized by these numbers.
    /// </summary>
    public void Validate(string source)
    {
        void Require(bool ok, string what) { if (!ok) throw new InvalidModelFileException(source, what); }
        Require(Layers > 0 && Layers <= MaxLayers, $"layer count {Layers} is out of range (1..{MaxLayers})");
        Require(Dim > 0 && Dim <= 1 << 16, $"hidden size {Dim} is out of range");
        Require(Heads > 0 && Heads <= 1024, $"head count {Heads} is out of range");
        Require(KvHeads > 0 && KvHeads <= Heads && Heads % KvHeads == 0, $"KV head count {KvHeads} must divide the head count {Heads}");
        Require(HeadDim > 0 && HeadDim <= 1024, $"head size {HeadDim} is out of range");
        Require(Positions != PositionKind.Rope || HeadDim % 2 == 0, $"head size {HeadDim} must be even for RoPE");
        Require(FfnDim > 0 && FfnDim <= 1 << 18, $"feed-forward size {FfnDim} is out of range");
        Require(VocabSize > 0 && VocabSize <= 1 << 24, $"vocabulary size {VocabSize} is out of range");
        Require(ContextLength > 0 && ContextLength <= 1 << 24, $"context length {ContextLength} is out of range");
        Require(double.IsFinite(NormEps) && NormEps > 0 && NormEps <= 0.1, $"norm epsilon {NormEps} is out of range (a finite number in (0, 0.1])");
        Require(Positions != PositionKind.Rope || double.IsFinite(RopeTheta) && RopeTheta > 1 && RopeTheta <= 1e12,
            $"rope theta {RopeTheta} is out of range (a finite number in (1, 1e12])");
        Require(TokenTypes is >= 0 and <= 1 << 16, $"token type count {TokenTypes} is out of range");
        if (Attention is { } variant)
            foreach (var problem in variant.Problems(this)) Require(false, $"attention variant {variant.Kind}: {problem}");
        if (RopeScaling is { } s)
        {
            Require(s.Type is "linear" or "llama3" or "freq-factors", $"rope scaling type {ErrorText.Quote(s.Type)} is not supported (linear, llama3)");
            if (s.Type == "freq-factors")
                Require(s.FreqFactors is { } ff && ff.Count == HeadDim / 2 && ff.All(x => double.IsFinite(x) && x > 0 && x <= 1e6),
                    $"rope frequency factors must be {HeadDim / 2} finite numbers in (0, 1e6] (one per frequency of a {HeadDim}-wide head)");
            Require(double.IsFinite(s.Factor) && s.Factor > 0 && s.Factor <= 1e6, $"rope scaling factor {s.Factor} is out of range (a finite number in (0, 1e6])");
            if (s.Type == "llama3")
            {
                Require(double.IsFinite(s.LowFreqFactor) && s.LowFreqFactor > 0 && double.IsFinite(s.HighFreqFactor) && s.HighFreqFactor > s.LowFreqFactor,
                    $"rope scaling low/high frequency factors {s.LowFreqFactor}/{s.HighFreqFactor} must be finite, positive and low < high");
                Require(s.OriginalContext > 0, $"rope scaling original context {s.OriginalContext} must be positive");
            }
        }
    }
}
