using System.Text.Json;
using HeadWise.Formats.Safetensors;
using HeadWise.Tokenizers;

namespace HeadWise.Tests.Fixtures;

/// <summary>
/// Writes a small random Hugging Face model folder for a decoder family, in the real on-disk layout: config.json
/// with the family's field names, model.safetensors with its tensor names (GPT-2: Conv1D [in, out] and fused
/// c_attn), tokenizer.json (byte-level BPE for llama (Llama-3 style), qwen2, qwen3, gpt2; SentencePiece BPE for mistral).
/// </summary>
public static class RandomHfCheckpoint
{
    public const int Layers = 2, Dim = 64, Heads = 4, KvHeads = 2, FfnDim = 128, Context = 256;

    public static int HeadDim(string family) => family == "qwen3" ? 32 : Dim / Heads;  // Qwen3: head_dim given, q_dim != hidden

    public static string Write(string dir, string family, int seed = 1, string dtype = "F32")
    {
        Directory.CreateDirectory(dir);
        var rng = new Random(seed);
        int vocab = WriteTokenizer(Path.Combine(dir, "tokenizer.json"), family, rng);
        File.WriteAllText(Path.Combine(dir, "config.json"), JsonSerializer.Serialize(Config(family, vocab), new JsonSerializerOptions { WriteIndented = true }));
        SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"), Tensors(family, vocab, rng, dtype).ToList(),
            new Dictionary<string, string> { ["format"] = "pt" });
        return dir;
    }

    private static Dictionary<string, object?> Config(string family, int vocab)
    {
        if (family == "gpt2")
            return new()
            {
                ["activation_function"] = "gelu_new", ["architectures"] = new[] { "GPT2LMHeadModel" }, ["bos_token_id"] = vocab - 1,
                ["eos_token_id"] = vocab - 1, ["layer_norm_epsilon"] = 1e-5, ["model_type"] = "gpt2", ["n_ctx"] = Context, ["n_embd"] = Dim,
                ["n_head"] = Heads, ["n_inner"] = null, ["n_layer"] = Layers, ["n_positions"] = Context, ["vocab_size"] = vocab,
            };
        var c = new Dictionary<string, object?>
        {
            ["architectures"] = new[] { family switch { "llama" => "LlamaForCausalLM", "mistral" => "MistralForCausalLM", "qwen2" => "Qwen2ForCausalLM", _ => "Qwen3ForCausalLM" } },
            ["model_type"] = family, ["hidden_act"] = "silu", ["hidden_size"] = Dim, ["intermediate_size"] = FfnDim,
            ["num_attention_heads"] = Heads, ["num_hidden_layers"] = Layers, ["num_key_value_heads"] = KvHeads,
            ["max_position_embeddings"] = Context, ["rms_norm_eps"] = 1e-6, ["vocab_size"] = vocab, ["torch_dtype"] = "float32",
            ["rope_theta"] = family == "llama" ? 500000.0 : 1000000.0, ["rope_scaling"] = null,
            // Qwen2/3 small models tie the output to the embedding; llama and mistral keep lm_head.
            ["tie_word_embeddings"] = family is "qwen2" or "qwen3",
        };
        if (family == "qwen3") c["head_dim"] = HeadDim(family);
        if (family is "llama" or "qwen3") c["attention_bias"] = false;
        if (family == "mistral") c["sliding_window"] = 4096;
        if (family is "qwen2" or "qwen3") { c["use_sliding_window"] = false; c["sliding_window"] = null; }
        return c;
    }

    private static IEnumerable<(string, long[], string, ReadOnlyMemory<float>)> Tensors(string family, int vocab, Random rng, string dtype)
    {
        (string, long[], string, ReadOnlyMemory<float>) T(string name, float std, params long[] shape) =>
            (name, shape, dtype, Gaussian(rng, shape.Aggregate(1L, (a, b) => a * b), std));
        (string, long[], string, ReadOnlyMemory<float>) Norm(string name, long n, float mean = 1f) =>
            (name, [n], dtype, RandomLlamaGguf.Gaussian(rng, n, 0.1f).Select(x => mean + x).ToArray());
        float s = 1f / MathF.Sqrt(Dim);
        if (family == "gpt2")
        {
            yield return T("wte.weight", 0.5f, vocab, Dim);
            yield return T("wpe.weight", 0.3f, Context, Dim);
            for (int l = 0; l < Layers; l++)
            {
                var p = $"h.{l}.";
                yield return Norm(p + "ln_1.weight", Dim); yield return Norm(p + "ln_1.bias", Dim, 0);
                yield return T(p + "attn.c_attn.weight", 2 * s, Dim, 3 * Dim); yield return T(p + "attn.c_attn.bias", 0.1f, 3 * Dim);
                yield return T(p + "attn.c_proj.weight", s, Dim, Dim); yield return T(p + "attn.c_proj.bias", 0.1f, Dim);
                yield return Norm(p + "ln_2.weight", Dim); yield return Norm(p + "ln_2.bias", Dim, 0);
                yield return T(p + "mlp.c_fc.weight", s, Dim, 4 * Dim); yield return T(p + "mlp.c_fc.bias", 0.1f, 4 * Dim);  // n_inner null: 4 * n_embd
                yield return T(p + "mlp.c_proj.weight", 1f / MathF.Sqrt(4 * Dim), 4 * Dim, Dim); yield return T(p + "mlp.c_proj.bias", 0.1f, Dim);
            }
            yield return Norm("ln_f.weight", Dim); yield return Norm("ln_f.bias", Dim, 0);
            yield break;
        }
        int hd = HeadDim(family), q = Heads * hd, kv = KvHeads * hd;
        yield return T("model.embed_tokens.weight", 0.5f, vocab, Dim);
        for (int l = 0; l < Layers; l++)
        {
            var p = $"model.layers.{l}.";
            yield return Norm(p + "input_layernorm.weight", Dim);
            yield return T(p + "self_attn.q_proj.weight", 2 * s, q, Dim);
            yield return T(p + "self_attn.k_proj.weight", 2 * s, kv, Dim);
            yield return T(p + "self_attn.v_proj.weight", s, kv, Dim);
            if (family == "qwen2")
            {
                yield return T(p + "self_attn.q_proj.bias", 0.3f, q);
                yield return T(p + "self_attn.k_proj.bias", 0.3f, kv);
                yield return T(p + "self_attn.v_proj.bias", 0.1f, kv);
            }
            if (family == "qwen3")
            {
                yield return Norm(p + "self_attn.q_norm.weight", hd);
                yield return Norm(p + "self_attn.k_norm.weight", hd);
            }
            yield return T(p + "self_attn.o_proj.weight", 1f / MathF.Sqrt(q), Dim, q);
            yield return Norm(p + "post_attention_layernorm.weight", Dim);
            yield return T(p + "mlp.gate_proj.weight", s, FfnDim, Dim);
            yield return T(p + "mlp.up_proj.weight", s, FfnDim, Dim);
            yield return T(p + "mlp.down_proj.weight", 1f / MathF.Sqrt(FfnDim), Dim, FfnDim);
        }
        yield return Norm("model.norm.weight", Dim);
        if (family is "llama" or "mistral") yield return T("lm_head.weight", 0.3f, vocab, Dim);
    }

    /// <summary>Writes the family's tokenizer.json; returns its size (the model's vocab_size).</summary>
    private static int WriteTokenizer(string path, string family, Random rng)
    {
        if (family == "mistral")
        {
            var (pieces, scores, types) = RandomLlamaGguf.Vocabulary(320, rng);
            HfTokenizerJsonWriter.SentencePiece(path, pieces, types, HfTokenizerJsonWriter.SentencePieceMerges(pieces, scores, types));
            return pieces.Length;
        }
        // 256 byte tokens plus a few merges of common English pairs, then the family's special tokens.
        var vocab = Enumerable.Range(0, 256).Select(b => ByteLevelAlphabet.ByteToChar((byte)b).ToString()).ToList();
        var merges = new List<string>();
        foreach (var pair in new[] { "Ġ t", "h e", "Ġt he", "i n", "a n", "e r", "o n", "Ġ a", "r e", "a t", "e n", "Ġ s", "o r", "Ġ w", "Ġ an" })
        {
            merges.Add(pair);
            vocab.Add(pair.Replace(" ", ""));
        }
        string[] specials = family switch
        {
            "llama" => ["<|begin_of_text|>", "<|end_of_text|>"],
            "gpt2" => ["<|endoftext|>"],
            _ => ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        };
        HfTokenizerJsonWriter.ByteLevel(path, vocab, merges, specials, family switch { "llama" => "llama3", "gpt2" => "gpt2", _ => "qwen2" },
            bos: family == "llama" ? "<|begin_of_text|>" : null);
        return vocab.Count + specials.Length;
    }

    private static float[] Gaussian(Random rng, long n, float std) => RandomLlamaGguf.Gaussian(rng, n, std);
}
