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

/// <summary>RoPE frequency scaling (Hugging Face rope_scaling).</summary>
public sealed record RopeScaling(string Type, double Factor, double LowFreqFactor = 1, double HighFreqFactor = 4, int OriginalContext = 8192);

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
    /// <summary>Element type the weights were stored in (for reports): F32, F16, BF16, Q8_0.</summary>
    public string WeightType { get; init; } = "F32";

    public int GroupSize => Heads / KvHeads;
    public int QDim => Heads * HeadDim;
    public int KvDim => KvHeads * HeadDim;

    /// <summary>Checks the numbers agree with each other; throws naming the field that does not.</summary>
    public void Validate(string source)
    {
        void Require(bool ok, string what) { if (!ok) throw new InvalidModelFileException(source, what); }
        Require(Layers > 0 && Layers <= 1024, $"layer count {Layers} is out of range (1..1024)");
        Require(Dim > 0 && Dim <= 1 << 16, $"hidden size {Dim} is out of range");
        Require(Heads > 0 && Heads <= 1024, $"head count {Heads} is out of range");
        Require(KvHeads > 0 && KvHeads <= Heads && Heads % KvHeads == 0, $"KV head count {KvHeads} must divide the head count {Heads}");
        Require(HeadDim > 0 && HeadDim <= 1024, $"head size {HeadDim} is out of range");
        Require(Positions != PositionKind.Rope || HeadDim % 2 == 0, $"head size {HeadDim} must be even for RoPE");
        Require(FfnDim > 0 && FfnDim <= 1 << 18, $"feed-forward size {FfnDim} is out of range");
        Require(VocabSize > 0 && VocabSize <= 1 << 24, $"vocabulary size {VocabSize} is out of range");
        Require(ContextLength > 0 && ContextLength <= 1 << 24, $"context length {ContextLength} is out of range");
        Require(RopeTheta > 0, $"rope theta {RopeTheta} must be positive");
    }
}
