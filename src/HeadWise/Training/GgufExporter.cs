using HeadWise.Formats.Gguf;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Training;

/// <summary>
/// Writes a trained model as GGUF "llama" with its byte-level BPE as a "gpt2" vocabulary, so that HeadWise and
/// llama.cpp both load it. The model was trained in the interleaved RoPE layout GGUF llama uses: Q/K go out as they are.
/// </summary>
internal static class GgufExporter
{
    public static void Write(string path, ModelSpec spec, ModelWeights weights, BpeVocabulary vocab, GgmlType type = GgmlType.F32)
    {
        if (spec.Architecture != "llama" || spec.Rope != RopeLayout.Interleaved)
            throw new ArgumentException($"GgufExporter writes interleaved-RoPE llama models, not {spec.Architecture}/{spec.Rope}");
        if (Refusal(spec) is { } refused) throw new HeadWiseException(refused);
        var meta = new List<KeyValuePair<string, object>>
        {
            new("general.architecture", "llama"),
            new("general.name", spec.Name),
            new("general.file_type", type == GgmlType.F32 ? 0u : type == GgmlType.F16 ? 1u : 32u),
            new("llama.context_length", (uint)spec.ContextLength),
            new("llama.embedding_length", (uint)spec.Dim),
            new("llama.block_count", (uint)spec.Layers),
            new("llama.feed_forward_length", (uint)spec.FfnDim),
            new("llama.rope.dimension_count", (uint)spec.HeadDim),
            new("llama.attention.head_count", (uint)spec.Heads),
            new("llama.attention.head_count_kv", (uint)spec.KvHeads),
            new("llama.attention.layer_norm_rms_epsilon", (float)spec.NormEps),
            new("llama.rope.freq_base", (float)spec.RopeTheta),
            new("llama.vocab_size", (uint)spec.VocabSize),
            new("tokenizer.ggml.model", "gpt2"),
            new("tokenizer.ggml.pre", BpeVocabulary.PreTokenizer),
            new("tokenizer.ggml.tokens", vocab.Tokens),
            new("tokenizer.ggml.token_type", vocab.TokenTypes),
            new("tokenizer.ggml.merges", vocab.Merges),
            new("tokenizer.ggml.bos_token_id", (uint)vocab.BosId),
            new("tokenizer.ggml.eos_token_id", (uint)vocab.EosId),
            new("tokenizer.ggml.add_bos_token", true),
            new("tokenizer.ggml.add_eos_token", false),
        };
        if (spec.QDim != spec.Dim)
        {
            // SQA: the head size is not dim / heads; llama.cpp (and HeadWise's reader) take it from these keys.
            meta.Add(new("llama.attention.key_length", (uint)spec.HeadDim));
            meta.Add(new("llama.attention.value_length", (uint)spec.HeadDim));
        }
        GgufWriter.Write(path, meta, Tensors(spec, weights, type));
    }

    /// <summary>Why a GGUF file of this model would be wrong, or null: llama.cpp's llama architecture computes softmax attention only.</summary>
    public static string? Refusal(ModelSpec spec) => spec.Attention is { LlamaCppReadable: false } v
        ? $"GGUF export refused: llama.cpp's llama architecture cannot compute {v.Kind} attention, so a GGUF file would run it as softmax attention; use the Hugging Face files (config.json records the variant)"
        : null;

    private static IEnumerable<GgufTensorData> Tensors(ModelSpec spec, ModelWeights w, GgmlType type)
    {
        // ggml lists dimensions fastest first: a torch [out, in] matrix is [in, out]. Norm vectors stay F32, as llama.cpp writes them.
        var layout = TensorLayout.For(spec).ToDictionary(s => s.Name);
        foreach (var (name, t) in w.Named())
            yield return new(layout[name].GgufName, t.shape.Reverse().ToArray(), t.dim() == 1 ? GgmlType.F32 : type, Floats(t));
    }

    internal static float[] Floats(Tensor t)
    {
        using var c = t.detach().to(ScalarType.Float32).contiguous();
        return c.data<float>().ToArray();
    }
}
