using HeadWise.Formats.HuggingFace;
using HeadWise.Models;
using HeadWise.Tokenizers;

namespace HeadWise.Formats.Gguf;

/// <summary>
/// Hugging Face folder → GGUF with llama.cpp's architecture names, metadata keys and tensor names, so that llama.cpp
/// (and HeadWise's GGUF loader) run the result. Llama/Mistral become arch "llama" with Q/K rows permuted from HF's
/// halves RoPE layout to adjacent pairs, as llama.cpp's convert_hf_to_gguf.py does; Qwen2/Qwen3 keep the halves layout
/// (llama.cpp runs them with NeoX RoPE); GPT-2's q/k/v are fused back into attn_qkv.
/// </summary>
public static class GgufConverter
{
    public static void Convert(string hfDir, string outPath, GgmlType dtype = GgmlType.F32)
    {
        if (dtype is not (GgmlType.F32 or GgmlType.F16 or GgmlType.BF16))
            throw new HeadWiseException($"--dtype {dtype} is not supported (f32, f16, bf16)");
        using var hf = HfCheckpoint.Open(hfDir);
        var spec = hf.Spec;
        var arch = spec.Architecture switch
        {
            "llama" or "mistral" => "llama",
            "qwen2" or "qwen3" or "gpt2" => spec.Architecture,
            var other => throw new HeadWiseException($"{hfDir}: converting model_type '{other}' to GGUF is not supported (llama, mistral, qwen2, qwen3, gpt2)"),
        };
        if (spec.RopeScaling is { Type: not ("linear" or "llama3") } rs)
            throw new HeadWiseException($"{hfDir}: rope_scaling type '{rs.Type}' cannot be converted (linear, llama3)");
        var tokPath = hf.TokenizerJsonPath ?? throw new HeadWiseException($"{hfDir}: no tokenizer.json in the model folder; GGUF files carry their tokenizer");
        var tok = TokenizerJson.Read(tokPath);
        if (tok.Kind == "wordpiece") throw new HeadWiseException($"{tokPath}: a WordPiece tokenizer cannot go into a decoder GGUF");
        if (tok.Tokens.Length > spec.VocabSize)
            throw new InvalidModelFileException(tokPath, $"tokenizer has {tok.Tokens.Length} tokens but the model's vocabulary is {spec.VocabSize}");

        var meta = Metadata(spec, arch, dtype);
        meta.AddRange(TokenizerMetadata(tok, spec.VocabSize, tokPath));
        GgufWriter.Write(outPath, meta, Tensors(spec, arch, hf, dtype).ToList());
    }

    private static List<KeyValuePair<string, object>> Metadata(ModelSpec s, string arch, GgmlType dtype)
    {
        var m = new List<KeyValuePair<string, object>>();
        void Add(string key, object value) => m.Add(new(key, value));
        Add("general.architecture", arch);
        Add("general.name", string.IsNullOrEmpty(s.Name) ? s.Architecture : s.Name);
        Add("general.file_type", dtype switch { GgmlType.F16 => 1u, GgmlType.BF16 => 32u, _ => 0u });  // llama_ftype
        Add($"{arch}.context_length", (uint)s.ContextLength);
        Add($"{arch}.embedding_length", (uint)s.Dim);
        Add($"{arch}.block_count", (uint)s.Layers);
        Add($"{arch}.feed_forward_length", (uint)s.FfnDim);
        Add($"{arch}.attention.head_count", (uint)s.Heads);
        Add($"{arch}.attention.head_count_kv", (uint)s.KvHeads);
        if (s.HeadDim * s.Heads != s.Dim || arch == "qwen3")
        {
            Add($"{arch}.attention.key_length", (uint)s.HeadDim);
            Add($"{arch}.attention.value_length", (uint)s.HeadDim);
        }
        if (arch == "gpt2")
            Add($"{arch}.attention.layer_norm_epsilon", (float)s.NormEps);
        else
        {
            Add($"{arch}.attention.layer_norm_rms_epsilon", (float)s.NormEps);
            Add($"{arch}.rope.dimension_count", (uint)s.HeadDim);
            Add($"{arch}.rope.freq_base", (float)s.RopeTheta);
            if (s.RopeScaling is { Type: "linear" } rs) // llama3 goes as the rope_freqs tensor, as llama.cpp's converter writes it
            {
                Add($"{arch}.rope.scaling.type", rs.Type);
                Add($"{arch}.rope.scaling.factor", (float)rs.Factor);
            }
        }
        if (arch == "llama") Add($"{arch}.vocab_size", (uint)s.VocabSize);
        return m;
    }

    /// <summary>tokenizer.ggml.* as llama.cpp reads them; rows of a padded embedding get unused "[PADn]" tokens.</summary>
    private static List<KeyValuePair<string, object>> TokenizerMetadata(TokenizerJsonModel t, int vocab, string source)
    {
        var tokens = t.Tokens.Concat(Enumerable.Range(t.Tokens.Length, vocab - t.Tokens.Length).Select(i => $"[PAD{i}]")).ToArray();
        var types = t.Types.Concat(Enumerable.Repeat((int)TokenType.Unused, vocab - t.Tokens.Length)).ToArray();
        var m = new List<KeyValuePair<string, object>>
        {
            new("tokenizer.ggml.model", t.Kind),
            new("tokenizer.ggml.tokens", tokens),
            new("tokenizer.ggml.token_type", types),
        };
        if (t.Kind == "gpt2")
        {
            var pre = t.PreName ?? throw new InvalidModelFileException(source, "the pre-tokenizer regex is not one llama.cpp knows (gpt2, qwen2, llama-bpe)");
            m.Add(new("tokenizer.ggml.pre", pre));
            m.Add(new("tokenizer.ggml.merges", t.Merges));
        }
        else
        {
            m.Add(new("tokenizer.ggml.pre", "default"));
            m.Add(new("tokenizer.ggml.scores", t.Scores().Concat(Enumerable.Repeat(-1e9f, vocab - t.Tokens.Length)).ToArray()));
            m.Add(new("tokenizer.ggml.add_space_prefix", t.AddSpacePrefix));
        }
        if (t.BosId is int bos) m.Add(new("tokenizer.ggml.bos_token_id", (uint)bos));
        if (t.EosId is int eos) m.Add(new("tokenizer.ggml.eos_token_id", (uint)eos));
        if (t.UnkId is int unk) m.Add(new("tokenizer.ggml.unknown_token_id", (uint)unk));
        m.Add(new("tokenizer.ggml.add_bos_token", t.AddBos));
        return m;
    }

    /// <summary>
    /// The layout's tensors under their GGUF names: Q/K rows permuted from Hugging Face halves to adjacent pairs for
    /// arch llama (llama.cpp's converter does the same; qwen2/qwen3 keep halves and run NeoX RoPE); parts that GGUF
    /// fuses (GPT-2 attn_qkv) concatenated in row order.
    /// </summary>
    private static IEnumerable<GgufTensorData> Tensors(ModelSpec s, string arch, ITensorSource src, GgmlType dtype)
    {
        bool toPairs = arch == "llama";
        float[] Read(TensorSlot slot)
        {
            var a = new float[slot.ElementCount];
            src.ReadFloats(slot.Name, a);
            return toPairs && slot.RopeHeads > 0 ? TensorLayout.PermuteRopeRows(a, slot.RopeHeads, s.HeadDim, halvesToPairs: true) : a;
        }
        // ggml order is the reverse of torch's; 1-D tensors (norms, biases) stay F32 as in llama.cpp's converter.
        GgufTensorData T(string name, float[] data, long[] torchShape) =>
            new(name, torchShape.Reverse().ToArray(), torchShape.Length == 1 ? GgmlType.F32 : dtype, data);

        var slots = TensorLayout.For(s).Where(t => src.Contains(t.Name)).ToList();
        foreach (var group in slots.GroupBy(t => t.GgufName))
        {
            var parts = group.OrderBy(t => t.GgufRowStart).ToList();
            var shape = (long[])parts[0].Shape.Clone();
            shape[0] = parts.Sum(p => p.Shape[0]);
            yield return T(group.Key, parts.Count == 1 ? Read(parts[0]) : parts.SelectMany(Read).ToArray(), shape);
        }
        if (s.RopeScaling is { Type: "llama3" } rope)
            yield return T(GgufModelSpec.RopeFreqsTensor, rope.Divisors(s.HeadDim, s.RopeTheta).Select(x => (float)x).ToArray(), [s.HeadDim / 2]);
        // llama.cpp's converter writes GPT-2's tied output matrix out in full.
        if (arch == "gpt2" && !src.Contains("output.weight"))
        {
            var embed = slots.First(t => t.Name == "token_embd.weight");
            yield return T("output.weight", Read(embed), embed.Shape);
        }
    }
}
