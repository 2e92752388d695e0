using HeadWise.Analysis;
using HeadWise.Formats;
using HeadWise.Formats.Gguf;
using HeadWise.Formats.HuggingFace;
using HeadWise.Formats.Llama2c;
using HeadWise.Formats.Onnx;
using HeadWise.Formats.Safetensors;
using HeadWise.KvCache;
using HeadWise.Models;
using HeadWise.Tokenizers;

namespace HeadWise.Fuzz;

/// <summary>
/// One fuzz target per reader. Each writes the input where the reader expects a file and runs the reader as the CLI
/// does up to (not including) libtorch: parse, validate, build the spec and tokenizer, check and read tensors.
/// A <see cref="HeadWiseException"/> is the promised clean error; any other exception is a crash for the fuzzer.
/// </summary>
public static class Targets
{
    public sealed record Target(string Name, string FileName, string Reads, Action<string> Run);

    public static readonly IReadOnlyList<Target> All =
    [
        new("gguf", "model.gguf", "GGUF header, metadata, tensor infos, spec, tokenizer, tensor reads", path =>
        {
            using var file = GgufFile.Open(path);
            var spec = GgufModelSpec.Read(file);
            Exercise(TokenizerFactory.FromGgufMetadata(file.Metadata, path));
            ReadSmallTensors(new GgufTensorSource(file, spec));
        }),
        new("safetensors", "model.safetensors", "safetensors header and tensor reads", path =>
        {
            using var file = SafetensorsFile.Open(path);
            ReadSmallTensors(file);
        }),
        new("shard-index", "model.safetensors.index.json", "sharded safetensors index (weight_map) and its shards", path =>
        {
            WriteShard(Path.GetDirectoryName(path)!);
            using var shards = SafetensorsShards.Open(path);
            ReadSmallTensors(shards);
        }),
        new("config", "config.json", "Hugging Face config.json", path => HfConfig.Load(path)),
        new("tokenizer-json", "tokenizer.json", "Hugging Face tokenizer.json", path => Exercise(TokenizerJson.Load(path))),
        new("llama2c", "model.bin", "llama2.c checkpoint", path =>
        {
            using var source = new Llama2cTensorSource(Llama2cCheckpoint.Open(path));
            source.Spec();
            ReadSmallTensors(source);
        }),
        new("tokenizer-bin", "tokenizer.bin", "llama2.c tokenizer.bin", path => Exercise(TokenizerFactory.FromLlama2cFile(path))),
        new("onnx", "model.onnx", "ONNX protobuf (BERT graph walk)", path =>
        {
            using var weights = OnnxBertWeights.Open(path);
            ReadSmallTensors(weights);
        }),
        new("spm", "tokenizer.model", "SentencePiece model proto", path => Exercise(SentencePieceModelFile.Load(path))),
        new("atlas", "atlas.json", "head atlas JSON (as --atlas reads it)", path =>
        {
            var atlas = HeadAtlas.Load(path);
            HeadScores.Load(path);
            if (atlas.Scores.ContainsKey("duo-gate")) DuoPattern.FromAtlas(atlas);
        }),
        new("duo-tsv", "full_attention_heads.tsv", "DuoAttention full_attention_heads.tsv (as --atlas reads it)", path =>
        {
            DuoPattern.Read(path);
            HeadScores.Load(path);
        }),
    ];

    public static Target Find(string name) =>
        All.FirstOrDefault(t => t.Name == name) ?? throw new ArgumentException($"no fuzz target '{name}' (targets: {string.Join(", ", All.Select(t => t.Name))})");

    private static readonly string[] Texts = ["Once upon a time, there was a little girl named Lily.", "héllo\nwörld  \t<s></s> 123 ∑ 🙂", ""];

    /// <summary>Encodes and decodes a few texts, as generate does with a prompt and the tokens it samples.</summary>
    private static void Exercise(ITokenizer tokenizer)
    {
        foreach (var text in Texts)
        {
            var ids = tokenizer.Encode(text, addBos: true);
            tokenizer.Decode(ids);
        }
        for (int id = 0; id < Math.Min(tokenizer.VocabSize, 64); id++) tokenizer.Decode([id]);
    }

    /// <summary>Every tensor's shape, and the bytes of the small ones (norms, biases; dequantised as the model load does).</summary>
    private static void ReadSmallTensors(ITensorSource source)
    {
        foreach (var name in source.Names.Take(256))
        {
            var shape = source.Shape(name);
            long count = 1;
            foreach (var d in shape) count = d < 0 || count > (1L << 20) ? long.MaxValue : count * d;
            if (count <= 1 << 16) source.ReadFloats(name, new float[count]);
        }
    }

    /// <summary>The one shard the shard-index seeds name: a real, tiny safetensors file.</summary>
    private static void WriteShard(string dir)
    {
        var shard = Path.Combine(dir, "model-00001-of-00001.safetensors");
        if (!File.Exists(shard))
            SafetensorsWriter.Write(shard, [("model.norm.weight", new long[] { 4 }, "F32", new float[] { 1, 2, 3, 4 })]);
    }
}
