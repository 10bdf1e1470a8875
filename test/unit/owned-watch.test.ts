import type { ServingObjectStore } from "../../engine/apply/store";
import { ClusterError } from "../../engine/errors";
import { createLogger } from "../../service/logger";
import { OwnedObjectsWatch } from "../../service/owned-watch";
import { engineSettingsSchema } from "../../engine/settings";

const settings = engineSettingsSchema.parse({ namespace: "ns", owner: "o" });

test("a watch refused with HTTP 410 (not as an ERROR event) relists and resumes from the new list", async () => {
  const startedFrom: string[] = [];
  let lists = 0;
  const stop = new AbortController();
  const store = {
    listAt: async () => {
      lists++;
      return { items: [], resourceVersion: "200" };
    },
    watch: async (_ns: string, _selector: string, resourceVersion: string) => {
      startedFrom.push(resourceVersion);
      if (resourceVersion === "100")
        throw new ClusterError("watch", "SeldonDeployments in ns", 410, "too old resource version: 100");
      stop.abort();
    },
  } as unknown as ServingObjectStore;
  const watch = new OwnedObjectsWatch(store, settings, () => undefined, createLogger("silent"));
  watch.listed([], "100");
  await watch.run(stop.signal);
  expect(startedFrom).toEqual(["100", "200"]);
  expect(lists).toBe(1);
});
