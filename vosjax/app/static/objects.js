// The object list: one row per object (its palette colour, an editable name, a delete button), the selected one
// highlighted. Rows are rebuilt only when the objects themselves change; otherwise names are updated in place, never
// under the person's typing.
//
// handlers: select(id), rename(id, name), remove(object).

export function renderObjects(list, objects, selected, handlers) {
  const shown = Array.from(list.children, (item) => Number(item.dataset.id));
  if (shown.length === objects.length && objects.every((o, i) => o.id === shown[i])) {
    objects.forEach((object, i) => {
      const name = list.children[i].querySelector('input[type=text]');
      if (name !== document.activeElement) name.value = object.name;
    });
    markSelected(list, selected);
    return;
  }
  list.replaceChildren(...objects.map((object) => row(object, handlers)));
  markSelected(list, selected);
}

export function markSelected(list, id) {
  for (const item of list.children) item.className = Number(item.dataset.id) === id ? 'selected' : '';
}

function row(object, handlers) {
  const item = document.createElement('li');
  item.dataset.id = object.id;
  const swatch = document.createElement('span');
  swatch.className = 'swatch';
  swatch.style.background = object.colour;
  swatch.title = `id ${object.id}`;
  const name = document.createElement('input');
  name.type = 'text';
  name.value = object.name;
  name.setAttribute('aria-label', `name of object ${object.id}`);
  name.addEventListener('change', () => handlers.rename(object.id, name.value));
  name.addEventListener('keydown', (event) => { if (event.key === 'Enter') name.blur(); });  // blur sends change
  const remove = document.createElement('button');
  remove.className = 'delete';
  remove.textContent = '×';
  remove.title = 'Delete this object from every frame';
  remove.addEventListener('click', (event) => { event.stopPropagation(); handlers.remove(object); });
  item.append(swatch, name, remove);
  item.addEventListener('click', () => handlers.select(object.id));
  return item;
}
