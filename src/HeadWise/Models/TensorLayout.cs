namespace HeadWise.Models;

/// <summary>How a Hugging Face (or ONNX) file stores a tensor relative to its canonical [out, in] form.</summary>
public enum StoredTransform
{
    Copy,
    /// <summary>[in, out] (GPT-2 Conv1D, ONNX MatMul) to [out, in].</summary>
    Transpose,
    /// <summary>Column block Part of Parts from a fused [in, Parts*out] matrix, transposed to [out, in] (GPT-2 c_attn).</summary>
    SplitTranspose,
    /// <summary>Block Part of Parts from a fused vector (GPT-2 c_attn bias).</summary>
    SplitVector,
}

/// <summary>Which linear layers carry a bias where the family leaves it to the checkpoint (Llama's attention_bias / mlp_bias).</summary>
public sealed record LinearBiases(bool Qkv, bool AttnOutput, bool Ffn);

/// <summary>
/// One tensor of a family: its canonical name (GGUF-style, what every <see cref="Formats.ITensorSource"/> presents),
/// canonical shape, whether a checkpoint must have it, and where the Hugging Face and GGUF layouts keep it.
/// </summary>
/// <param name="Name">Canonical name, e.g. blk.3.attn_q.weight.</param>
/// <param name="Shape">Canonical (torch) shape, [out, in] for a linear weight.</param>
public sealed record TensorSlot(string Name, long[] Shape, bool Required)
{
    /// <summary>Name in a Hugging Face checkpoint without the model./transformer./bert. prefix; null where HF has none.</summary>
    public string? HfName { get; init; }
    /// <summary>Where a tied embedding may be stored instead (transformers saves it under lm_head.weight alone, e.g. TinyStories-656K).</summary>
    public string? HfTiedName { get; init; }
    public StoredTransform HfTransform { get; init; }
    public int HfPart { get; init; }
    public int HfParts { get; init; } = 1;
    /// <summary>Name in GGUF files as llama.cpp writes them.</summary>
    public string GgufName { get; init; } = Name;
    /// <summary>First row inside a fused GGUF tensor (GPT-2's attn_qkv holds q, k, v as row blocks).</summary>
    public long GgufRowStart { get; init; }
    /// <summary>
    /// Rows are RoPE-rotated pairs of this many heads (Q, K and their biases): converting between the halves layout
    /// (Hugging Face) and the adjacent-pairs layout (GGUF llama) permutes them. 0 for every other tensor.
    /// </summary>
    public int RopeHeads { get; init; }

    public bool IsLayer => Name.StartsWith("blk.", StringComparison.Ordinal);
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// The tensor-layout table of every family: the one place that names tensors. Loading (which tensors, their shapes,
/// which are required), the Hugging Face and GGUF name maps, the converter and the training exporters all read it,
/// so adding a family or a tensor is an edit here.
/// </summary>
public static class TensorLayout
{
    /// <param name="biases">For families whose biases are the checkpoint's choice: which exist (required then);
    /// null when unknown (a GGUF file), so biases are optional and loaded where present.</param>
    public static IReadOnlyList<TensorSlot> For(ModelSpec s, LinearBiases? biases = null) => s.Architecture switch
    {
        "gpt2" => Gpt2(s),
        "bert" => Bert(s),
        // Qwen2 always has q/k/v biases and no others.
        "qwen2" => Decoder(s, new LinearBiases(Qkv: true, AttnOutput: false, Ffn: false)),
        _ => Decoder(s, biases),
    };

    /// <summary>Local name of a layer tensor ("attn_q.weight" for "blk.3.attn_q.weight") and its layer; layer -1 for the others.</summary>
    public static (int Layer, string Local) Split(string name)
    {
        if (!name.StartsWith("blk.", StringComparison.Ordinal)) return (-1, name);
        int dot = name.IndexOf('.', 4);
        return (int.Parse(name.AsSpan(4, dot - 4)), name[(dot + 1)..]);
    }

    private sealed class Builder
    {
        public readonly List<TensorSlot> Slots = [];
        public void Add(TensorSlot slot) => Slots.Add(slot);
        public TensorSlot T(string name, string? hf, bool required, params long[] shape) => new(name, shape, required) { HfName = hf };

        /// <summary>A linear layer: weight [out, in] and, when <paramref name="bias"/> says (null: optional), its bias.</summary>
        public void Linear(string name, string hf, long outDim, long inDim, bool? bias, int ropeHeads = 0)
        {
            Add(T(name + ".weight", hf + ".weight", true, outDim, inDim) with { RopeHeads = ropeHeads });
            if (bias != false) Add(T(name + ".bias", hf + ".bias", bias ?? false, outDim) with { RopeHeads = ropeHeads });
        }

        public void Norm(string name, string hf, long dim, bool bias)
        {
            Add(T(name + ".weight", hf + ".weight", true, dim));
            if (bias) Add(T(name + ".bias", hf + ".bias", true, dim));
        }
    }

    /// <summary>Llama, Mistral, Qwen2, Qwen3 (q/k norms).</summary>
    private static List<TensorSlot> Decoder(ModelSpec s, LinearBiases? biases)
    {
        var b = new Builder();
        long d = s.Dim, q = s.QDim, kv = s.KvDim, f = s.FfnDim;
        b.Add(b.T("token_embd.weight", "embed_tokens.weight", true, s.VocabSize, d) with { HfTiedName = s.TiedEmbeddings ? "lm_head.weight" : null });
        for (var l = 0; l < s.Layers; l++)
        {
            string blk = $"blk.{l}.", hf = $"layers.{l}.";
            b.Add(b.T(blk + "attn_norm.weight", hf + "input_layernorm.weight", true, d));
            b.Linear(blk + "attn_q", hf + "self_attn.q_proj", q, d, biases?.Qkv, s.Heads);
            b.Linear(blk + "attn_k", hf + "self_attn.k_proj", kv, d, biases?.Qkv, s.KvHeads);
            b.Linear(blk + "attn_v", hf + "self_attn.v_proj", kv, d, biases?.Qkv);
            b.Linear(blk + "attn_output", hf + "self_attn.o_proj", d, q, biases?.AttnOutput);
            foreach (var (local, hfName, shape) in s.Attention?.LayerTensors(s) ?? [])
                b.Add(b.T(blk + local, hf + "self_attn." + hfName, true, shape));
            if (s.QkNorm)
            {
                b.Add(b.T(blk + "attn_q_norm.weight", hf + "self_attn.q_norm.weight", true, s.HeadDim));
                b.Add(b.T(blk + "attn_k_norm.weight", hf + "self_attn.k_norm.weight", true, s.HeadDim));
            }
            b.Add(b.T(blk + "ffn_norm.weight", hf + "post_attention_layernorm.weight", true, d));
            b.Linear(blk + "ffn_gate", hf + "mlp.gate_proj", f, d, biases?.Ffn);
            b.Linear(blk + "ffn_up", hf + "mlp.up_proj", f, d, biases?.Ffn);
            b.Linear(blk + "ffn_down", hf + "mlp.down_proj", d, f, biases?.Ffn);
        }
        b.Add(b.T("output_norm.weight", "norm.weight", true, d));
        if (!s.TiedEmbeddings) b.Add(b.T("output.weight", "lm_head.weight", true, s.VocabSize, d));
        return b.Slots;
    }

    /// <summary>GPT-2: Conv1D weights stored [in, out]; q/k/v fused (c_attn in HF, attn_qkv in GGUF); learned positions.</summary>
    private static List<TensorSlot> Gpt2(ModelSpec s)
    {
        var b = new Builder();
        long d = s.Dim, f = s.FfnDim, q = s.QDim, kv = s.KvDim;
        b.Add(b.T("token_embd.weight", "wte.weight", true, s.VocabSize, d));
        b.Add(b.T("position_embd.weight", "wpe.weight", true, s.ContextLength, d));
        for (var l = 0; l < s.Layers; l++)
        {
            string blk = $"blk.{l}.", hf = $"h.{l}.";
            b.Norm(blk + "attn_norm", hf + "ln_1", d, true);
            string[] parts = ["attn_q", "attn_k", "attn_v"];
            long[] rows = [q, kv, kv], starts = [0, q, q + kv];
            for (var p = 0; p < 3; p++)
            {
                b.Add(b.T($"{blk}{parts[p]}.weight", hf + "attn.c_attn.weight", true, rows[p], d) with
                    { HfTransform = StoredTransform.SplitTranspose, HfPart = p, HfParts = 3, GgufName = blk + "attn_qkv.weight", GgufRowStart = starts[p] });
                b.Add(b.T($"{blk}{parts[p]}.bias", hf + "attn.c_attn.bias", true, rows[p]) with
                    { HfTransform = StoredTransform.SplitVector, HfPart = p, HfParts = 3, GgufName = blk + "attn_qkv.bias", GgufRowStart = starts[p] });
            }
            Conv1D(b, blk + "attn_output", hf + "attn.c_proj", d, q);
            b.Norm(blk + "ffn_norm", hf + "ln_2", d, true);
            Conv1D(b, blk + "ffn_up", hf + "mlp.c_fc", f, d);
            Conv1D(b, blk + "ffn_down", hf + "mlp.c_proj", d, f);
        }
        b.Norm("output_norm", "ln_f", d, true);
        if (!s.TiedEmbeddings) b.Add(b.T("output.weight", "lm_head.weight", true, s.VocabSize, d));
        return b.Slots;
    }

    private static void Conv1D(Builder b, string name, string hf, long outDim, long inDim)
    {
        b.Add(b.T(name + ".weight", hf + ".weight", true, outDim, inDim) with { HfTransform = StoredTransform.Transpose });
        b.Add(b.T(name + ".bias", hf + ".bias", true, outDim));
    }

    /// <summary>BERT encoders (post-norm; read from HF folders and ONNX files).</summary>
    private static List<TensorSlot> Bert(ModelSpec s)
    {
        var b = new Builder();
        long d = s.Dim, f = s.FfnDim;
        b.Add(b.T("token_embd.weight", "embeddings.word_embeddings.weight", true, s.VocabSize, d));
        b.Add(b.T("position_embd.weight", "embeddings.position_embeddings.weight", true, s.ContextLength, d));
        b.Add(b.T("token_types.weight", "embeddings.token_type_embeddings.weight", true, s.TokenTypes, d));
        b.Norm("token_embd_norm", "embeddings.LayerNorm", d, true);
        for (var l = 0; l < s.Layers; l++)
        {
            string blk = $"blk.{l}.", hf = $"encoder.layer.{l}.";
            b.Linear(blk + "attn_q", hf + "attention.self.query", d, d, true);
            b.Linear(blk + "attn_k", hf + "attention.self.key", d, d, true);
            b.Linear(blk + "attn_v", hf + "attention.self.value", d, d, true);
            b.Linear(blk + "attn_output", hf + "attention.output.dense", d, d, true);
            b.Norm(blk + "attn_output_norm", hf + "attention.output.LayerNorm", d, true);
            b.Linear(blk + "ffn_up", hf + "intermediate.dense", f, d, true);
            b.Linear(blk + "ffn_down", hf + "output.dense", d, f, true);
            b.Norm(blk + "layer_output_norm", hf + "output.LayerNorm", d, true);
        }
        return b.Slots;
    }

    /// <summary>
    /// Permutes the rows of a RoPE-rotated tensor ([heads*headDim, rest] or a bias [heads*headDim]) between the halves
    /// layout (row i*(d/2)+j of a head) and the adjacent-pairs layout (row 2j+i): llama.cpp's converter permute().
    /// </summary>
    public static float[] PermuteRopeRows(ReadOnlySpan<float> data, int heads, int headDim, bool halvesToPairs)
    {
        int rowLen = data.Length / (heads * headDim), half = headDim / 2;
        var result = new float[data.Length];
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < half; j++)
                {
                    long halves = (long)(h * headDim + i * half + j) * rowLen, pairs = (long)(h * headDim + 2 * j + i) * rowLen;
                    var (from, to) = halvesToPairs ? (halves, pairs) : (pairs, halves);
                    data.Slice((int)from, rowLen).CopyTo(result.AsSpan((int)to, rowLen));
                }
        return result;
    }
}
