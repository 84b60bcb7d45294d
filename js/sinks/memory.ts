/**
 * The memory sink (`sink: 'memory'`): the records held as the batches they were stored in.
 * @module
 */
import { Records, type Batch, type Part, type Sink } from './sink.js';

export class MemorySink implements Sink {
  records = new Records();
  async append(batch: Batch) {
    this.records.push(batch);
  }
  async read() {
    return this.records.lines();
  }
  async scan(each: (part: Part) => Promise<boolean>) {
    for (const bytes of this.records.parts()) if (!(await each({ bytes }))) break;
    return 0;
  }
}
