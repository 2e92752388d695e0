using System.CommandLine;
using System.Text.Json;
using HeadWise.Models;

namespace HeadWise.Cli.Commands;

/// <summary>`headwise embed`: mean-pooled, normalised sentence embeddings from a BERT encoder, and their cosine similarities.</summary>
internal static class EmbedCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model("Sentence-transformers BERT encoder exported to ONNX (e.g. all-MiniLM-L6-v2 model.onnx)");
        var load = new LoadOptionSet("BERT WordPiece vocab.txt (default: the vocab.txt beside the .onnx)");
        var text = new Option<string[]>("--text") { Description = "A sentence to embed (repeat for several)", Required = true, AllowMultipleArgumentsPerToken = false };
        var json = CommonOptions.Json();
        var command = new Command("embed", "Sentence embeddings (mean pooling, L2-normalised) and their cosine similarities") { model, text, json };
        foreach (var o in load.All) command.Options.Add(o);
        command.SetAction(r => CliRun.Guard(() => Run(r.GetValue(model)!, load.Get(r), r.GetValue(text)!, r.GetValue(json))));
        return command;
    }

    private static int Run(string path, LoadOptions loadOptions, string[] texts, string? jsonPath)
    {
        if (texts.Length == 0) throw new HeadWiseException("give at least one --text");
        using var m = ModelLoader.Load(path, loadOptions);
        var vectors = texts.Select(t => SentenceEmbedder.Embed(m, t)).ToArray();
        var sims = vectors.Select(a => vectors.Select(b => Math.Round(SentenceEmbedder.Cosine(a, b), 6)).ToArray()).ToArray();
        for (int i = 0; i < texts.Length; i++)
            Console.WriteLine($"[{i}] {texts[i]}  (dim {vectors[i].Length}: {string.Join(", ", vectors[i].Take(4).Select(v => v.ToString("F4")))}, ...)");
        if (texts.Length > 1)
        {
            Console.WriteLine("cosine similarity");
            for (int i = 0; i < texts.Length; i++)
                Console.WriteLine($"[{i}] " + string.Join("  ", sims[i].Select(s => s.ToString("F4"))));
        }
        if (jsonPath is not null)
            File.WriteAllText(jsonPath, JsonSerializer.Serialize(new { texts, embeddings = vectors, cosine = sims }, JsonOptions.Indented));
        return 0;
    }
}
